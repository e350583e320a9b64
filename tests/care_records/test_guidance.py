"""Each guidance rule fires on facts built to trigger it and stays quiet just below."""

from __future__ import annotations

from dataclasses import replace

import pytest

from care_records import guidance
from care_records.guidance import ResidentFacts, Screen, evaluate

QUIET = ResidentFacts()


def fired(facts: ResidentFacts) -> set[str]:
    return {s.rule_id for s in evaluate(facts)}


def test_nothing_fires_on_nothing_known() -> None:
    assert fired(QUIET) == set()


def test_the_table_has_sources_for_every_rule() -> None:
    assert [r.id for r in guidance.RULES] == [
        "fall_risk.high",
        "cognition.positive_screen",
        "vitals.resting_rate_rising",
        "continence.night_bathroom_doubled",
        "mobility.less_time_up",
    ]
    assert all(r.sources for r in guidance.RULES)


# --- fall risk ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "fires"),
    [
        (ResidentFacts(ability_level="moderate"), True),
        (ResidentFacts(ability_level="complete"), True),
        (ResidentFacts(ability_level="mild"), False),
        (ResidentFacts(morse_total=45), True),
        (ResidentFacts(morse_total=44), False),
        (ResidentFacts(night_bed_exits=(2, 3, 2, 2, 4, 2, 2)), True),
        (ResidentFacts(night_bed_exits=(2, 3, 2, 2, 4, 2, 1)), False),  # one quieter night
        (ResidentFacts(night_bed_exits=(2, 3, 2, 2, 4, 2)), False),  # six nights of data
    ],
)
def test_fall_risk(facts: ResidentFacts, fires: bool) -> None:
    assert ("fall_risk.high" in fired(facts)) is fires


def test_fall_risk_evidence_names_every_reason() -> None:
    facts = ResidentFacts(
        ability_level="severe", ability_assessment_id=4, morse_total=60, night_bed_exits=(3,) * 7
    )
    (s,) = [s for s in evaluate(facts) if s.rule_id == "fall_risk.high"]
    assert s.evidence["reasons"] == ["ability_level", "morse_high", "night_bed_exits"]
    assert s.evidence["night_bed_exits"] == [3] * 7
    rule = guidance.RULES_BY_ID["fall_risk.high"]
    assert rule.set_resident == {"at_risk_wandering": True}
    assert {t["kind"] for t in rule.add_tasks} == {"night_check", "floor_mat"}


# --- cognition ------------------------------------------------------------------------------


def test_cognition_fires_on_a_positive_screen_only() -> None:
    ad8_pos = Screen("ad8", 1, 2, True, 0.0)
    ad8_neg = Screen("ad8", 2, 1, False, 0.0)
    moca_neg = Screen("moca", 3, 26, False, 0.0)
    assert "cognition.positive_screen" in fired(ResidentFacts(screens=(ad8_pos, moca_neg)))
    assert "cognition.positive_screen" not in fired(ResidentFacts(screens=(ad8_neg, moca_neg)))


# --- resting rates --------------------------------------------------------------------------

BASE_BREATHING = (16.0,) * 21
BASE_HEART = (68.0,) * 21


@pytest.mark.parametrize(
    ("week", "fires"),
    [((19.0,) * 7, True), ((18.9,) * 7, False), ((19.5,) * 5, True), ((19.5,) * 4, False)],
)
def test_resting_breathing_rise(week: tuple[float, ...], fires: bool) -> None:
    facts = ResidentFacts(resting_breathing_week=week, resting_breathing_baseline=BASE_BREATHING)
    assert ("vitals.resting_rate_rising" in fired(facts)) is fires


@pytest.mark.parametrize(("week_bpm", "fires"), [(78.0, True), (77.9, False)])
def test_resting_heart_rise(week_bpm: float, fires: bool) -> None:
    facts = ResidentFacts(resting_heart_week=(week_bpm,) * 7, resting_heart_baseline=BASE_HEART)
    assert ("vitals.resting_rate_rising" in fired(facts)) is fires


def test_resting_rate_needs_a_baseline() -> None:
    facts = ResidentFacts(
        resting_breathing_week=(25.0,) * 7, resting_breathing_baseline=(16.0,) * 6
    )
    assert fired(facts) == set()


# --- night bathroom -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("this", "last", "fires"),
    [
        ((2,) * 7, (1,) * 7, True),
        ((2, 2, 2, 2, 2, 2, 1), (1,) * 7, False),  # 1.86 a night: not yet doubled
        ((4,) * 7, (2,) * 7, True),
        ((4,) * 7, (2, 2, 2, 2, 2, 2, 3), False),
        ((1,) * 7, (0,) * 7, False),  # doubling from nothing to 1 is not a change to act on
        ((3,) * 4, (1,) * 7, False),  # four nights of data this week
    ],
)
def test_night_bathroom(this: tuple[int, ...], last: tuple[int, ...], fires: bool) -> None:
    facts = ResidentFacts(night_bathroom_this_week=this, night_bathroom_last_week=last)
    assert ("continence.night_bathroom_doubled" in fired(facts)) is fires


# --- time out of bed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("this_h", "last_h", "fires"),
    [(8.0, 10.0, True), (8.1, 10.0, False), (3.2, 4.0, False), (2.9, 4.0, True)],
)
def test_less_time_out_of_bed(this_h: float, last_h: float, fires: bool) -> None:
    facts = ResidentFacts(
        out_of_bed_h_this_week=(this_h,) * 7, out_of_bed_h_last_week=(last_h,) * 7
    )
    assert ("mobility.less_time_up" in fired(facts)) is fires


def test_rules_are_independent() -> None:
    facts = replace(
        QUIET, morse_total=50, night_bathroom_this_week=(3,) * 7, night_bathroom_last_week=(1,) * 7
    )
    assert fired(facts) == {"fall_risk.high", "continence.night_bathroom_doubled"}
