"""NEWS2 (RCP 2017): every band edge of every parameter, scale 2, aggregation, response bands."""

from __future__ import annotations

import numpy as np
import pytest

from care_hub.signal_core import news2
from care_hub.signal_core.news2 import Reading, aggregate

RESP = [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (4, 3), (40, 3)]
SPO2_1 = [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0), (70, 3)]
SYSTOLIC = [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3), (60, 3)]
PULSE = [
    (40, 3),
    (41, 1),
    (50, 1),
    (51, 0),
    (90, 0),
    (91, 1),
    (110, 1),
    (111, 2),
    (130, 2),
    (131, 3),
]
TEMP = [
    (35.0, 3),
    (35.1, 1),
    (36.0, 1),
    (36.1, 0),
    (38.0, 0),
    (38.1, 1),
    (39.0, 1),
    (39.1, 2),
    (41.0, 2),
    (33.0, 3),
]


@pytest.mark.parametrize(("value", "score"), RESP)
def test_respiration_rate_edges(value: float, score: int) -> None:
    assert news2.score_respiration_rate(value) == score


@pytest.mark.parametrize(("value", "score"), SPO2_1)
def test_spo2_scale1_edges(value: float, score: int) -> None:
    assert news2.score_spo2(value, scale=1) == score


@pytest.mark.parametrize(("value", "score"), SYSTOLIC)
def test_systolic_edges(value: float, score: int) -> None:
    assert news2.score_systolic_bp(value) == score


@pytest.mark.parametrize(("value", "score"), PULSE)
def test_pulse_edges(value: float, score: int) -> None:
    assert news2.score_pulse(value) == score


@pytest.mark.parametrize(("value", "score"), TEMP)
def test_temperature_edges(value: float, score: int) -> None:
    assert news2.score_temperature(value) == score


# RCP 2017 scale 2: <=83:3, 84-85:2, 86-87:1, 88-92:0, >=93 on air:0; on O2 93-94:1, 95-96:2, >=97:3
SPO2_2 = [
    (83, False, 3), (84, False, 2), (85, False, 2), (86, False, 1), (87, False, 1),
    (88, False, 0), (92, False, 0), (93, False, 0), (99, False, 0),
    (83, True, 3), (88, True, 0), (92, True, 0), (93, True, 1), (94, True, 1),
    (95, True, 2), (96, True, 2), (97, True, 3), (100, True, 3),
]  # fmt: skip


@pytest.mark.parametrize(("value", "o2", "score"), SPO2_2)
def test_spo2_scale2_edges(value: float, o2: bool, score: int) -> None:
    assert news2.score_spo2(value, scale=2, on_oxygen=o2) == score


def test_consciousness_and_oxygen() -> None:
    assert news2.score_consciousness("A") == 0
    for level in "CVPU":
        assert news2.score_consciousness(level) == 3
    assert np.isnan(news2.score_consciousness(None))
    with pytest.raises(ValueError):
        news2.score_consciousness("X")
    assert news2.score_supplemental_oxygen(True) == 2
    assert news2.score_supplemental_oxygen(False) == 0


def test_non_integer_values_round_half_up_like_a_chart() -> None:
    assert news2.score_respiration_rate(20.4) == 0
    assert news2.score_respiration_rate(20.5) == 2
    assert news2.score_pulse(90.49) == 0
    assert news2.score_pulse(90.5) == 1
    assert news2.score_temperature(38.04) == 0
    assert news2.score_temperature(38.05) == 1


def test_vectorised_scoring_with_missing_values() -> None:
    out = news2.score_pulse(np.array([35.0, 60.0, np.nan, 140.0]))
    np.testing.assert_array_equal(out[[0, 1, 3]], [3, 0, 3])
    assert np.isnan(out[2])
    np.testing.assert_array_equal(
        news2.score_respiration_rate(np.array(RESP)[:, 0]), np.array(RESP)[:, 1]
    )
    with pytest.raises(ValueError):
        news2.score_spo2(95, scale=3)


@pytest.mark.parametrize(
    ("total", "single3", "band", "severity"),
    [
        (0, False, "routine", None),
        (1, False, "low", "low"),
        (4, False, "low", "low"),
        (3, True, "low_medium", "medium"),
        (4, True, "low_medium", "medium"),
        (5, False, "medium", "high"),
        (6, True, "medium", "high"),
        (7, False, "high", "critical"),
        (12, True, "high", "critical"),
    ],
)
def test_response_bands_and_severity(
    total: int, single3: bool, band: str, severity: str | None
) -> None:
    assert news2.response_band(total, single3) == band
    assert news2.SEVERITY_BY_BAND[band] == severity  # type: ignore[index]
    assert news2.response_bands([total], [single3])[0] == band


def full_set(ts: float, **over: float | str | bool) -> list[Reading]:
    base: dict[str, float | str | bool] = {
        "respiration_rate": 16, "spo2": 97, "supplemental_oxygen": False, "systolic_bp": 125,
        "pulse": 70, "consciousness": "A", "temperature": 36.8,
    }  # fmt: skip
    base.update(over)
    return [Reading(p, v, ts, "test") for p, v in base.items()]  # type: ignore[arg-type]


def test_aggregate_complete_normal_set_is_routine() -> None:
    res = aggregate(full_set(1000.0), now_s=1000.0)
    assert res.total == 0 and res.band == "routine" and res.severity is None and res.complete


def test_aggregate_uses_newest_reading_per_parameter_within_window() -> None:
    readings = [
        *full_set(0.0, pulse=135),  # old: outside a 1 h window at now=4000
        Reading("pulse", 95.0, 3500.0),  # 1
        Reading("pulse", 115.0, 3900.0),  # newest: 2
        Reading("respiration_rate", 23.0, 3800.0),  # 2
        Reading("spo2", 93.0, 3950.0),  # 2
    ]
    res = aggregate(readings, now_s=4000.0)
    assert res.subscores["pulse"] == 2
    assert res.subscores["respiration_rate"] == 2
    assert res.subscores["spo2"] == 2
    assert res.total == 6 and res.band == "medium" and res.severity == "high"
    assert not res.complete and "temperature" in res.missing
    assert {r.ts_s for r in res.readings if r.parameter == "pulse"} == {3900.0}


def test_aggregate_future_readings_are_ignored_and_window_is_configurable() -> None:
    readings = [Reading("pulse", 135.0, 5000.0), Reading("pulse", 60.0, 100.0)]
    assert aggregate(readings, now_s=4000.0).subscores == {}
    assert aggregate(readings, now_s=4000.0, window_s=4000.0).subscores["pulse"] == 0


def test_single_three_gives_low_medium_and_scale2_with_care_plan_oxygen() -> None:
    res = aggregate(full_set(10.0, spo2=90), now_s=10.0)
    assert res.total == 3 and res.band == "low_medium" and res.severity == "medium"
    # Scale 2 on oxygen (care plan): SpO2 97 scores 3, oxygen scores 2.
    res2 = aggregate(full_set(10.0, spo2=97), now_s=10.0, spo2_scale=2, on_oxygen=True)
    assert res2.subscores["spo2"] == 3 and res2.subscores["supplemental_oxygen"] == 2
    assert res2.total == 5 and res2.band == "medium"


def test_aggregate_high_band() -> None:
    res = aggregate(full_set(0.0, respiration_rate=26, pulse=120, systolic_bp=95), now_s=0.0)
    assert res.total == 3 + 2 + 2 and res.band == "high" and res.severity == "critical"
