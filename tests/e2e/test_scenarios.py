"""Shipped scenarios through the whole local stack in virtual time: the figures come from what the
simulated provider received. The longer contention scenarios (steady-three-tenants, noisy-neighbour,
deferral-storm) run the same way with `outreach simulate`; their figures are in docs/policies.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.simulate import Scenario, run_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["dirty-list", "bounce-storm", "complaint-spike", "ses-throttling", "warm-up"]
)
def test_scenario_keeps_every_limit_and_stops_what_it_must(name: str) -> None:
    scenario = Scenario.load(SCENARIOS / f"{name}.toml")
    report = run_scenario(scenario)
    assert report["sent"] > 0
    assert report["violations"] == 0, report["max_rate_vs_limit"]
    assert report["sends_after_block"] == 0
    for campaign in scenario.expect.paused:
        assert campaign in report["paused_campaigns"]
        if scenario.expect.pause_within_s is not None:
            assert report["time_to_pause_s"][campaign] <= scenario.expect.pause_within_s
    for identity in scenario.expect.blocked:
        assert identity in report["blocked_identities"]
    if scenario.expect.min_jain is not None and report["jain_index"] is not None:
        assert report["jain_index"] >= scenario.expect.min_jain


def test_every_shipped_scenario_parses() -> None:
    names = sorted(p.stem for p in SCENARIOS.glob("*.toml"))
    assert {"steady-three-tenants", "dirty-list", "noisy-neighbour", "deferral-storm"} <= set(names)
    for name in names:
        assert Scenario.load(SCENARIOS / f"{name}.toml").tenants
