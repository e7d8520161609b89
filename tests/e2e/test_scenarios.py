"""Every shipped scenario through the whole local stack in virtual time (planner, SQLite queue and
store, sender, simulated SES, feedback). The figures come from what the simulated provider received,
never from the limiter's own state: a limiter bug shows up as a violation."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.simulate import Scenario, check_expectations, run_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
NAMES = sorted(p.stem for p in SCENARIOS.glob("*.toml"))


@pytest.mark.slow
@pytest.mark.timeout(300)  # the largest scenario takes ~50 s of CPU: past 120 s when the machine is shared
@pytest.mark.parametrize("name", NAMES)
def test_scenario_keeps_every_limit_and_stops_what_it_must(name: str) -> None:
    scenario = Scenario.load(SCENARIOS / f"{name}.toml")
    report = run_scenario(scenario)
    checks = check_expectations(scenario, report)
    assert checks and all(held for _, held, _ in checks), [
        c for c in checks if not c[1]
    ]  # what the CLI prints
    expect = scenario.expect
    assert report["sent"] > 0
    assert report["violations"] == 0, report["max_rate_vs_limit"]
    assert report["sends_after_block"] == 0
    for campaign in expect.paused:
        assert campaign in report["paused_campaigns"]
        if expect.pause_within_s is not None:
            assert report["time_to_pause_s"][campaign] <= expect.pause_within_s
    for identity in expect.blocked:
        assert identity in report["blocked_identities"]
    if expect.min_jain is not None:
        assert report["jain_index"] >= expect.min_jain, report["shares"]
    if expect.min_utilisation is not None:
        assert report["utilisation"] >= expect.min_utilisation
    if expect.share_of is not None:
        # No more than its weight's share of the contended rate, within one message.
        share = report["shares"][expect.share_of]
        fair = report["fair_shares"][expect.share_of]
        contended_sends = round(report["utilisation"] * report["contention_s"] * scenario.max_send_rate)
        assert share <= fair + 1 / max(1, contended_sends)
    if expect.rate_cut:
        assert report["rate_cuts"] > 0
        assert report["bounce_rate"] < 0.01  # deferrals slow us down; they suppress nobody


def test_the_four_required_scenarios_ship_and_every_scenario_parses() -> None:
    assert {"steady-three-tenants", "dirty-list", "noisy-neighbour", "deferral-storm"} <= set(NAMES)
    for name in NAMES:
        assert Scenario.load(SCENARIOS / f"{name}.toml").tenants
