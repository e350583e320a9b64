"""Montreal Cognitive Assessment (MoCA, 30 points) with sub-scores and the education point.

Source: Nasreddine ZS, Phillips NA, Bedirian V, et al. The Montreal Cognitive Assessment, MoCA:
a brief screening tool for mild cognitive impairment. J Am Geriatr Soc 2005;53:695-699, and the
MoCA administration and scoring instructions (version 7.1): visuospatial/executive 5 (trail 1,
cube 1, clock contour, numbers, hands 1 each), naming 3, attention 6 (digits forward 1, backward
1, letter tapping 1 if at most one error, serial sevens 3 for 4-5 correct, 2 for 2-3, 1 for 1,
0 for none), language 3 (two sentences 1 each, fluency 1 for 11 or more F-words in a minute),
abstraction 2, delayed recall 5 (uncued), orientation 6. One point is added for 12 years of
schooling or fewer (total capped at 30). A total of 26 or more is normal; below 26 screens positive.

Chinese versions (e.g. MoCA-Beijing) keep this scoring; some Chinese studies use lower,
education-stratified cut-offs, which we do not apply (docs/care-records.md). The form is
copyrighted; this module scores answers and holds none of the form's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from care_records.scales._items import (
    Item,
    ScaleError,
    ScaleResult,
    education_years,
    item,
    upto,
    validate,
)

SCALE = "moca"
# Raw counts an assessor notes; points follow the published rules in `_points`.
MAX_LETTER_ERRORS = 30  # the letter list has 29 letters; more errors than that is not a count
MAX_FLUENCY_WORDS = 60
ITEMS: tuple[Item, ...] = (
    item("trail", "visuospatial_executive", 0, 1),
    item("cube", "visuospatial_executive", 0, 1),
    item("clock_contour", "visuospatial_executive", 0, 1),
    item("clock_numbers", "visuospatial_executive", 0, 1),
    item("clock_hands", "visuospatial_executive", 0, 1),
    *(item(f"naming_{k}", "naming", 0, 1) for k in ("lion", "rhinoceros", "camel")),
    item("digits_forward", "attention", 0, 1),
    item("digits_backward", "attention", 0, 1),
    upto("letter_tapping_errors", "attention", MAX_LETTER_ERRORS),
    upto("serial_sevens_correct", "attention", 5),
    item("sentence_1", "language", 0, 1),
    item("sentence_2", "language", 0, 1),
    upto("fluency_words", "language", MAX_FLUENCY_WORDS),
    item("abstraction_1", "abstraction", 0, 1),
    item("abstraction_2", "abstraction", 0, 1),
    *(
        item(f"recall_{k}", "delayed_recall", 0, 1)
        for k in ("face", "velvet", "church", "daisy", "red")
    ),
    *(
        item(f"orientation_{k}", "orientation", 0, 1)
        for k in ("date", "month", "year", "day", "place", "city")
    ),
)
LETTER_TAPPING_MAX_ERRORS = 1  # 1 point if 0 or 1 errors
FLUENCY_MIN_WORDS = 11  # 1 point for 11 or more words
EDUCATION_POINT_MAX_YEARS = 12  # +1 if 12 years of schooling or fewer
NORMAL_AT = 26
MAX_TOTAL = 30


def serial_sevens_points(correct: int) -> int:
    """MoCA instructions: 4 or 5 correct -> 3, 2 or 3 -> 2, 1 -> 1, 0 -> 0."""
    if not 0 <= correct <= 5:
        raise ScaleError("serial_sevens_correct is 0-5")
    return 3 if correct >= 4 else 2 if correct >= 2 else correct


def _points(clean: Mapping[str, int]) -> dict[str, int]:
    points = dict(clean)
    points["letter_tapping_errors"] = int(
        clean["letter_tapping_errors"] <= LETTER_TAPPING_MAX_ERRORS
    )
    points["serial_sevens_correct"] = serial_sevens_points(clean["serial_sevens_correct"])
    points["fluency_words"] = int(clean["fluency_words"] >= FLUENCY_MIN_WORDS)
    return points


def score(answers: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> ScaleResult:
    """Total with the education point, sub-scores per domain, positive below 26.

    `context.education_years` is required (the education point).
    """
    years = education_years(context)
    clean = validate(ITEMS, answers)
    points = _points(clean)
    subscores: dict[str, int] = {}
    for i in ITEMS:
        subscores[i.domain] = subscores.get(i.domain, 0) + points[i.key]
    raw = sum(subscores.values())
    education_point = int(years <= EDUCATION_POINT_MAX_YEARS and raw < MAX_TOTAL)
    total = raw + education_point
    positive = total < NORMAL_AT
    return ScaleResult(
        scale=SCALE,
        total=total,
        max_total=MAX_TOTAL,
        subscores=subscores,
        level="impaired" if positive else "normal",
        positive=positive,
        detail={"raw": raw, "education_point": education_point, "education_years": years},
    )
