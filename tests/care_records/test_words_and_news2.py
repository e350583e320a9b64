"""Every scale, item, level and rule has words in both languages; observations by hand feed NEWS2."""

from __future__ import annotations

import pytest

from alerts import vitals
from care_hub.kernel import i18n
from care_hub.kernel.models import Measurement
from care_hub.signal_core import kit_rules
from care_records import guidance, scales
from care_records.scales import ad8, barthel, gbt42195, mmse, moca, morse

LEVELS = {
    "gbt42195": gbt42195.LEVEL_ORDER,
    "barthel": tuple(name for _, name in barthel.BANDS),
    "ad8": ("positive", "negative"),
    "mmse": ("impaired", "normal"),
    "moca": ("impaired", "normal"),
    "morse": ("low", "moderate", "high"),
}


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_catalogue_covers_scales_and_rules(lang: str) -> None:
    words = i18n.catalogue(lang)
    keys = [f"care.scale.{s}" for s in scales.SCALES]
    for s in scales.SCALES:
        keys += [f"care.item.{s}.{i.key}" for i in scales.items_of(s)]
        keys += [f"care.domain.{s}.{d}" for d in {i.domain for i in scales.items_of(s)}]
        keys += [f"care.level.{s}.{level}" for level in LEVELS[s]]
    for rule in guidance.RULES:
        keys += [f"care.guidance.{rule.id}.title", f"care.guidance.{rule.id}.text"]
        keys += [f"care.task.{t['kind']}" for t in rule.add_tasks]
    keys.append("alert.type.care_task_overdue")
    assert [k for k in keys if k not in words] == []
    assert ad8 and mmse and moca and morse


def _m(ts: float, kind: str, values: dict[str, object], source: str) -> Measurement:
    return Measurement(resident_id="R-1", kind=kind, ts=ts, values=values, source=source)


def test_manual_observation_completes_news2_for_a_kit_reading() -> None:
    rows = [
        _m(
            1000.0,
            vitals.MANUAL_KIND,
            {"consciousness": "C", "supplemental_oxygen": True, "respiration_rate": 22},
            vitals.MANUAL_SOURCE,
        )
    ]
    j = kit_rules.judge_kit(
        "pulse", {"bpm": 72.0}, ts_s=1600.0, recent=vitals._recent_readings(rows)
    )
    news = j.extra["news2"]
    # New confusion 3 + oxygen 2 + respiration 22/min 2 = 7: an emergency response.
    assert news["subscores"] == {
        "consciousness": 3,
        "supplemental_oxygen": 2,
        "respiration_rate": 2,
        "pulse": 0,
    }
    assert news["total"] == 7 and news["band"] == "high" and j.severity == "critical"
    assert {"consciousness", "supplemental_oxygen", "respiration_rate"}.isdisjoint(news["missing"])


def test_without_an_observation_those_parameters_stay_missing() -> None:
    j = kit_rules.judge_kit("pulse", {"bpm": 72.0}, ts_s=1600.0, recent=[])
    assert {"consciousness", "respiration_rate"} <= set(j.extra["news2"]["missing"])
