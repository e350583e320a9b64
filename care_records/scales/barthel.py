"""Barthel Index of activities of daily living (10 items, 0-100).

Source: Mahoney FI, Barthel DW. Functional evaluation: the Barthel Index. Maryland State Medical
Journal 1965;14:61-65 (items and their 0/5/10/15 steps). Dependency bands as used in Chinese
nursing practice: WS/T 431-2013 护理分级 (Nursing classification), section 5: 100 no dependence,
61-99 mild, 41-60 moderate, <= 40 severe dependence. (Shah, Vanclay & Cooper, J Clin Epidemiol
1989;42:703-709, band the modified index differently; we do not implement the modified index.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from care_records.scales._items import Item, ScaleResult, item, max_total, validate

SCALE = "barthel"
ITEMS: tuple[Item, ...] = (
    item("feeding", "self_care", 0, 5, 10),
    item("bathing", "self_care", 0, 5),
    item("grooming", "self_care", 0, 5),
    item("dressing", "self_care", 0, 5, 10),
    item("bowels", "continence", 0, 5, 10),
    item("bladder", "continence", 0, 5, 10),
    item("toilet_use", "self_care", 0, 5, 10),
    item("transfers", "mobility", 0, 5, 10, 15),
    item("mobility", "mobility", 0, 5, 10, 15),
    item("stairs", "mobility", 0, 5, 10),
)
# WS/T 431-2013: lowest total of each band, most independent first.
BANDS: tuple[tuple[int, str], ...] = (
    (100, "independent"),
    (61, "mild"),
    (41, "moderate"),
    (0, "severe"),
)


def level_of(total: int) -> str:
    return next(name for low, name in BANDS if total >= low)


def score(answers: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> ScaleResult:
    """Total of the ten items and its WS/T 431-2013 dependency band."""
    clean = validate(ITEMS, answers)
    total = sum(clean.values())
    return ScaleResult(
        scale=SCALE,
        total=total,
        max_total=max_total(ITEMS),
        subscores={},
        level=level_of(total),
    )
