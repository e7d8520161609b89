from __future__ import annotations

import pytest

from outreach_core.rendering.templating import TemplateError, field_names, parse, render


def r(text: str, values: dict[str, str] | None = None, seed: int = 1, *, spintax: bool = True) -> str:
    return render(parse("text", text, spintax=spintax), values or {}, seed)


class TestPlaceholders:
    def test_a_value_replaces_its_placeholder(self) -> None:
        assert r("Hi {{first_name}}!", {"first_name": "Ann"}) == "Hi Ann!"

    @pytest.mark.parametrize(
        "text", ["{{first_name|there}}", '{{first_name|"there"}}', '{{ first_name | default: "there" }}']
    )
    def test_fallback_syntaxes_apply_when_the_value_is_empty(self, text: str) -> None:
        assert r(f"Hi {text}", {"first_name": "  "}) == "Hi there"

    def test_an_empty_value_without_fallback_blocks_the_send(self) -> None:
        with pytest.raises(TemplateError, match=r"first_name.*no fallback"):
            r("Hi {{first_name}}", {})

    def test_custom_fields_and_cyrillic_values(self) -> None:
        assert r("{{city}}, {{first_name}}", {"city": "Москва", "first_name": "Иван"}) == "Москва, Иван"

    def test_a_bad_placeholder_is_refused_with_its_position(self) -> None:
        with pytest.raises(TemplateError, match="at line 1, column 4"):
            parse("subject", "Hi {{ two words }}")

    def test_field_names_lists_what_a_template_needs(self) -> None:
        parsed = parse("text", "{{a}} {{b|x}} {{RANDOM|p|q}}")
        assert field_names(parsed) == {"a", "b"}


class TestSpintax:
    def test_options_are_chosen_and_nest(self) -> None:
        seen = {r("{Hi|Hello} {there|{friend|colleague}}", seed=s) for s in range(200)}
        assert seen == {f"{g} {w}" for g in ("Hi", "Hello") for w in ("there", "friend", "colleague")}

    def test_the_same_seed_renders_the_same_variant(self) -> None:
        text = "{a|b|c}{d|e}{{RANDOM|x|y|z}}"
        assert len({r(text, seed=42) for _ in range(5)}) == 1

    def test_random_placeholder(self) -> None:
        assert {r("{{RANDOM|Hi|Hey}}", seed=s) for s in range(50)} == {"Hi", "Hey"}

    def test_braces_without_a_pipe_stay_literal(self) -> None:
        assert r("json {x} stays") == "json {x} stays"

    def test_unbalanced_braces_are_refused(self) -> None:
        with pytest.raises(TemplateError, match="unclosed"):
            parse("subject", "{Hi|Hello")
        with pytest.raises(TemplateError, match="unmatched"):
            parse("subject", "Hi}")

    def test_html_keeps_css_braces_when_spintax_is_off(self) -> None:
        html = "<style>p{color:red|blue}</style>{{first_name|x}}"
        assert r(html, {"first_name": "Z"}, spintax=False) == "<style>p{color:red|blue}</style>Z"

    def test_placeholders_inside_spintax_options(self) -> None:
        out = {r("{Hi {{first_name|you}}|Hello}", {"first_name": "Bo"}, seed=s) for s in range(50)}
        assert out == {"Hi Bo", "Hello"}
