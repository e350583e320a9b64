"""Kit judgements: ADA glucose bands, hypertensive crisis, NEWS2 contributions, plausibility."""

from __future__ import annotations

import json

import pytest

from care_hub.signal_core.kit_rules import judge_kit
from care_hub.signal_core.news2 import Reading

TS = 1_764_320_200.0


@pytest.mark.parametrize(
    ("mmol_l", "alert", "severity", "rule"),
    [
        (2.9, True, "critical", "glucose.hypo_level2"),
        (3.0, True, "medium", "glucose.hypo_level1"),
        (3.8, True, "medium", "glucose.hypo_level1"),
        (3.9, False, None, "none"),
        (7.0, False, None, "none"),
        (13.9, False, None, "none"),
        (14.0, True, "medium", "glucose.hyper_level2"),
        (16.7, True, "high", "glucose.ketone_risk"),
        (33.3, True, "critical", "glucose.hhs_range"),
    ],
)
def test_glucose_bands(mmol_l: float, alert: bool, severity: str | None, rule: str) -> None:
    j = judge_kit("glucose", {"mmol_l": mmol_l}, ts_s=TS, context="fasting")
    assert (j.alert, j.severity, j.rule_id) == (alert, severity, rule)
    assert j.readings[0]["value"] == mmol_l


@pytest.mark.parametrize(
    ("sys_", "dia", "crisis"),
    [(179, 119, False), (180, 90, True), (150, 120, True), (182, 95, True), (140, 90, False)],
)
def test_blood_pressure_crisis(sys_: float, dia: float, crisis: bool) -> None:
    j = judge_kit("blood_pressure", {"systolic": sys_, "diastolic": dia}, ts_s=TS)
    fired = {r.rule_id for r in j.rules}
    assert ("bp.hypertensive_crisis" in fired) == crisis
    if crisis:
        assert j.alert and j.severity == "high" and j.rule_id == "bp.hypertensive_crisis"


def test_low_systolic_is_scored_by_news2() -> None:
    j = judge_kit("blood_pressure", {"systolic": 88, "diastolic": 50, "pulse": 72}, ts_s=TS)
    assert j.rule_id == "news2.low_medium" and j.severity == "medium"
    assert j.detail()["news2"]["subscores"]["systolic_bp"] == 3


def test_news2_aggregates_with_recent_readings() -> None:
    recent = [
        Reading("respiration_rate", 26.0, TS - 600, "radar"),  # 3
        Reading("temperature", 39.3, TS - 1200, "kit"),  # 2
        Reading("pulse", 60.0, TS - 7200, "kit"),  # too old
    ]
    j = judge_kit("spo2", {"percent": 93, "pulse": 118}, ts_s=TS, recent=recent)  # 2 + 2
    assert j.rule_id == "news2.high" and j.severity == "critical"
    assert j.score == 3 + 2 + 2 + 2
    d = j.detail()
    assert d["news2"]["subscores"] == {
        "respiration_rate": 3,
        "temperature": 2,
        "spo2": 2,
        "pulse": 2,
    }
    assert not d["news2"]["complete"]
    json.dumps(d)  # detail must be JSON-ready


def test_normal_reading_does_not_alert_but_news2_one_is_low() -> None:
    assert not judge_kit("temperature", {"celsius": 36.8}, ts_s=TS).alert
    j = judge_kit("temperature", {"celsius": 38.4}, ts_s=TS)
    assert j.alert and j.severity == "low" and j.rule_id == "news2.low"


def test_most_severe_rule_wins_and_all_are_listed() -> None:
    # 182/95 crisis (high) and pulse 135 (NEWS2 3 -> medium)
    j = judge_kit("blood_pressure", {"systolic": 182, "diastolic": 95, "pulse": 135}, ts_s=TS)
    assert j.severity == "high" and j.rule_id == "bp.hypertensive_crisis"
    assert [r.rule_id for r in j.rules] == ["bp.hypertensive_crisis", "news2.low_medium"]
    assert "hypertensive crisis" in j.reason and "NEWS2" in j.reason


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("spo2", {"percent": 130}),
        ("blood_pressure", {"systolic": 80, "diastolic": 95}),
        ("glucose", {"mmol_l": 0.0}),
        ("temperature", {"celsius": 3.68}),
    ],
)
def test_implausible_readings_are_not_alerted(kind: str, values: dict[str, float]) -> None:
    j = judge_kit(kind, values, ts_s=TS)
    assert not j.alert and j.rule_id == "kit.implausible"
