"""Mini-Mental State Examination (MMSE, 30 points) with domain sub-scores and the Chinese
education-adjusted cut-offs.

Sources: Folstein MF, Folstein SE, McHugh PR. "Mini-mental state": a practical method for grading
the cognitive state of patients for the clinician. J Psychiatr Res 1975;12:189-198 (items and
points). Cut-offs by education for Chinese older adults: Zhang MY, Katzman R, Salmon D, et al.
The prevalence of dementia and Alzheimer's disease in Shanghai, China: impact of age, gender,
and education. Ann Neurol 1990;27:428-437 (cognitive impairment at <= 17 for the illiterate,
<= 20 for primary school, <= 24 for middle school or more), the cut-offs most Chinese services use.

Attention is scored on serial sevens (100-7 ...; one point per correct subtraction, five at most),
as the Chinese version does; spelling WORLD backwards is not offered. The MMSE form is copyrighted
(PAR Inc.); this module scores answers and holds none of the form's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from care_records.scales._items import (
    Item,
    ScaleResult,
    education_years,
    item,
    max_total,
    subtotals,
    upto,
    validate,
)

SCALE = "mmse"
ITEMS: tuple[Item, ...] = (
    *(
        item(f"time_{k}", "orientation", 0, 1)
        for k in ("year", "season", "month", "date", "weekday")
    ),
    *(
        item(f"place_{k}", "orientation", 0, 1)
        for k in ("province", "city", "district", "building", "floor")
    ),
    upto("registration_words", "registration", 3),
    upto("serial_sevens_correct", "attention_calculation", 5),
    upto("recall_words", "recall", 3),
    upto("naming", "language", 2),
    item("repetition", "language", 0, 1),
    upto("three_stage_command", "language", 3),
    item("reading", "language", 0, 1),
    item("writing", "language", 0, 1),
    item("copying", "visuospatial", 0, 1),
)
# Zhang et al. 1990: a total at or below the cut-off for the person's schooling is impaired.
ILLITERATE_CUTOFF = 17  # no schooling
PRIMARY_CUTOFF = 20  # 1-6 years
SECONDARY_CUTOFF = 24  # more than 6 years
PRIMARY_SCHOOL_YEARS = 6


def cutoff_for(years: int) -> int:
    if years == 0:
        return ILLITERATE_CUTOFF
    if years <= PRIMARY_SCHOOL_YEARS:
        return PRIMARY_CUTOFF
    return SECONDARY_CUTOFF


def score(answers: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> ScaleResult:
    """Total, domain sub-scores and whether it is at or below the education cut-off.

    `context.education_years` is required: the same total means different things by schooling.
    """
    years = education_years(context)
    clean = validate(ITEMS, answers)
    total = sum(clean.values())
    cutoff = cutoff_for(years)
    positive = total <= cutoff
    return ScaleResult(
        scale=SCALE,
        total=total,
        max_total=max_total(ITEMS),
        subscores=subtotals(ITEMS, clean),
        level="impaired" if positive else "normal",
        positive=positive,
        detail={"education_years": years, "cutoff": cutoff},
    )
