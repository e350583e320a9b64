"""Morse Fall Scale (6 items, 0-125).

Source: Morse JM, Morse RM, Tylko SJ. Development of a scale to identify the fall-prone patient.
Canadian Journal on Aging 1989;8(4):366-377 (items and weights). Risk bands as commonly used with
it: 0-24 low, 25-44 moderate, >= 45 high (Morse JM. Preventing Patient Falls, 2nd ed., Springer
2009, advises setting the cut-off per setting; 45 is the usual high-risk threshold).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from care_records.scales._items import Item, ScaleResult, item, validate

SCALE = "morse"
ITEMS: tuple[Item, ...] = (
    item("history_of_falling", "history", 0, 25),  # fell in the last 3 months (or on admission)
    item("secondary_diagnosis", "condition", 0, 15),  # more than one medical diagnosis
    item(
        "ambulatory_aid", "mobility", 0, 15, 30
    ),  # none/bed rest/nurse; crutch/cane/walker; furniture
    item("iv_or_heparin_lock", "condition", 0, 20),
    item("gait", "mobility", 0, 10, 20),  # normal/bed rest/wheelchair; weak; impaired
    item("mental_status", "cognition", 0, 15),  # knows own limits; forgets/overestimates them
)
MODERATE_AT = 25
HIGH_AT = 45
MAX_TOTAL = 125


def level_of(total: int) -> str:
    if total >= HIGH_AT:
        return "high"
    if total >= MODERATE_AT:
        return "moderate"
    return "low"


def score(answers: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> ScaleResult:
    clean = validate(ITEMS, answers)
    total = sum(clean.values())
    level = level_of(total)
    return ScaleResult(
        scale=SCALE,
        total=total,
        max_total=MAX_TOTAL,
        subscores={},
        level=level,
        positive=level == "high",
    )
