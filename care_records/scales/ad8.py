"""AD8 Dementia Screening Interview (8 yes/no questions to an informant or the person).

Source: Galvin JE, Roe CM, Powlishta KK, et al. The AD8: a brief informant interview to detect
dementia. Neurology 2005;65:559-564. Each item answered "yes, a change" scores 1; "no" and
"does not apply / don't know" score 0. A total of 2 or more suggests cognitive impairment
("positive screen": refer for a full assessment). Chinese-language versions keep the eight
items and the cut-off; item wording should follow the version the home uses (docs/care-records.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from care_records.scales._items import Item, ScaleResult, item, validate

SCALE = "ad8"
# 1 = "yes, a change in the last several years because of thinking and memory problems".
ITEMS: tuple[Item, ...] = tuple(
    item(key, "change", 0, 1)
    for key in (
        "judgment",
        "less_interest",
        "repeats",
        "learning_tools",
        "forgets_month_year",
        "finances",
        "appointments",
        "daily_thinking",
    )
)
POSITIVE_AT = 2  # Galvin 2005: >= 2 discriminates impairment from none


def score(answers: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> ScaleResult:
    clean = validate(ITEMS, answers)
    total = sum(clean.values())
    positive = total >= POSITIVE_AT
    return ScaleResult(
        scale=SCALE,
        total=total,
        max_total=len(ITEMS),
        subscores={},
        level="positive" if positive else "negative",
        positive=positive,
    )
