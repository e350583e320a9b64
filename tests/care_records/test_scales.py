"""Every scale scored from item answers against worked examples, boundaries and bad answers."""

from __future__ import annotations

from typing import Any

import pytest

from care_records import scales
from care_records.scales import ScaleError, ad8, barthel, gbt42195, mmse, moca, morse


def full(scale: str) -> dict[str, int]:
    return {i.key: i.max_points for i in scales.items_of(scale)}


def zero(scale: str) -> dict[str, int]:
    return {i.key: 0 for i in scales.items_of(scale)}


# --- GB/T 42195-2022 ------------------------------------------------------------------------


def gb_with_total(total: int) -> dict[str, int]:
    """Answers summing to `total`, filled item by item from the first."""
    answers = zero("gbt42195")
    left = total
    for i in gbt42195.ITEMS:
        answers[i.key] = min(i.max_points, left)
        left -= answers[i.key]
    assert left == 0
    return answers


def test_gbt42195_has_26_items_in_four_indicators_totalling_90() -> None:
    assert len(gbt42195.ITEMS) == 26
    r = scales.score("gbt42195", full("gbt42195"))
    assert r.total == r.max_total == 90
    assert r.subscores == {"self_care": 32, "mobility": 15, "mental": 28, "perception_social": 15}
    assert r.level == "intact"


@pytest.mark.parametrize(
    ("total", "level"),
    [
        (90, "intact"),
        (89, "mild"),
        (66, "mild"),
        (65, "moderate"),
        (46, "moderate"),
        (45, "severe"),
        (30, "severe"),
        (29, "complete"),
        (0, "complete"),
    ],
)
def test_gbt42195_level_cut_offs(total: int, level: str) -> None:
    r = gbt42195.score(gb_with_total(total))
    assert (r.total, r.level, r.detail["preliminary_level"]) == (total, level, level)


def test_gbt42195_worked_example_with_sub_scores() -> None:
    # Needs help to bathe and dress the lower body, walks with a stick, forgetful.
    answers = full("gbt42195") | {
        "bathing": 2,
        "dressing_lower": 3,
        "walking": 3,
        "stairs": 1,
        "memory": 2,
        "time_orientation": 3,
        "transport": 1,
        "daily_affairs": 2,
    }
    r = gbt42195.score(answers)
    assert r.subscores == {"self_care": 29, "mobility": 12, "mental": 25, "perception_social": 11}
    assert r.total == 77 and r.level == "mild"


@pytest.mark.parametrize(
    "context",
    [
        {"dementia": True},
        {"mental_disorder": True},
        {"risk_events_30d": 2},
        {"dementia": True, "risk_events_30d": 5},
    ],
)
def test_gbt42195_adjustments_raise_the_level_once(context: dict[str, Any]) -> None:
    r = gbt42195.score(gb_with_total(70), context)
    assert (r.detail["preliminary_level"], r.level) == ("mild", "moderate")


def test_gbt42195_one_risk_event_does_not_raise_and_complete_stays_complete() -> None:
    assert gbt42195.score(gb_with_total(70), {"risk_events_30d": 1}).level == "mild"
    assert gbt42195.score(gb_with_total(10), {"dementia": True}).level == "complete"


def test_gbt42195_coma_is_complete_loss_whatever_the_total() -> None:
    answers = full("gbt42195") | {"consciousness": 0}
    r = gbt42195.score(answers, {"coma": True})
    assert r.total == 88 and r.level == "complete" and r.detail["adjustments"] == ["coma"]
    with pytest.raises(ScaleError):  # coma with a clear consciousness answer is contradictory
        gbt42195.score(full("gbt42195"), {"coma": True})


# --- Barthel --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "level"),
    [
        (100, "independent"),
        (95, "mild"),
        (61, "mild"),
        (60, "moderate"),
        (41, "moderate"),
        (40, "severe"),
        (0, "severe"),
    ],
)
def test_barthel_bands(total: int, level: str) -> None:
    assert barthel.level_of(total) == level


def test_barthel_worked_example() -> None:
    answers = {
        "feeding": 10,
        "bathing": 0,
        "grooming": 5,
        "dressing": 5,
        "bowels": 10,
        "bladder": 5,
        "toilet_use": 5,
        "transfers": 10,
        "mobility": 10,
        "stairs": 0,
    }
    r = barthel.score(answers)
    assert (r.total, r.level) == (60, "moderate")
    assert barthel.score(full("barthel")).total == 100
    assert barthel.score(zero("barthel")).level == "severe"


def test_barthel_refuses_steps_the_form_does_not_have() -> None:
    with pytest.raises(ScaleError, match="bathing"):
        barthel.score(full("barthel") | {"bathing": 10})
    with pytest.raises(ScaleError, match="transfers"):
        barthel.score(full("barthel") | {"transfers": 7})


# --- AD8 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("yes", "positive"), [(0, False), (1, False), (2, True), (8, True)])
def test_ad8_positive_at_two(yes: int, positive: bool) -> None:
    answers = {i.key: int(n < yes) for n, i in enumerate(ad8.ITEMS)}
    r = ad8.score(answers)
    assert (r.total, r.positive, r.level) == (yes, positive, "positive" if positive else "negative")


# --- MMSE -----------------------------------------------------------------------------------


def mmse_with_total(total: int) -> dict[str, int]:
    answers = zero("mmse")
    left = total
    for i in mmse.ITEMS:
        answers[i.key] = min(i.max_points, left)
        left -= answers[i.key]
    return answers


@pytest.mark.parametrize(
    ("years", "total", "positive"),
    [
        (0, 17, True),
        (0, 18, False),
        (3, 20, True),
        (6, 21, False),
        (7, 24, True),
        (12, 25, False),
        (16, 30, False),
    ],
)
def test_mmse_education_adjusted_cut_offs(years: int, total: int, positive: bool) -> None:
    r = mmse.score(mmse_with_total(total), {"education_years": years})
    assert (r.total, r.positive) == (total, positive)
    assert r.detail["cutoff"] == {0: 17, 3: 20, 6: 20}.get(years, 24)


def test_mmse_sub_scores_and_education_required() -> None:
    r = mmse.score(full("mmse"), {"education_years": 9})
    assert r.total == 30
    assert r.subscores == {
        "orientation": 10,
        "registration": 3,
        "attention_calculation": 5,
        "recall": 3,
        "language": 8,
        "visuospatial": 1,
    }
    with pytest.raises(ScaleError, match="education_years"):
        mmse.score(full("mmse"))


# --- MoCA -----------------------------------------------------------------------------------


def moca_answers(**changes: int) -> dict[str, int]:
    answers = {i.key: 1 for i in moca.ITEMS}
    answers.update(letter_tapping_errors=0, serial_sevens_correct=5, fluency_words=14)
    answers.update(changes)
    return answers


@pytest.mark.parametrize(("correct", "points"), [(5, 3), (4, 3), (3, 2), (2, 2), (1, 1), (0, 0)])
def test_moca_serial_sevens(correct: int, points: int) -> None:
    assert moca.serial_sevens_points(correct) == points


def test_moca_full_marks_and_sub_scores() -> None:
    r = moca.score(moca_answers(), {"education_years": 16})
    assert r.total == 30 and not r.positive
    assert r.subscores == {
        "visuospatial_executive": 5,
        "naming": 3,
        "attention": 6,
        "language": 3,
        "abstraction": 2,
        "delayed_recall": 5,
        "orientation": 6,
    }


def test_moca_counts_become_points_by_the_rules() -> None:
    edu = {"education_years": 16}
    assert moca.score(moca_answers(letter_tapping_errors=1), edu).total == 30
    assert moca.score(moca_answers(letter_tapping_errors=2), edu).total == 29
    assert moca.score(moca_answers(fluency_words=11), edu).total == 30
    assert moca.score(moca_answers(fluency_words=10), edu).total == 29


def test_moca_education_point_and_cut_off() -> None:
    # Raw 25: positive with 13 years of schooling, 26 (normal) with 12 or fewer.
    answers = moca_answers(
        recall_face=0, recall_velvet=0, recall_church=0, recall_daisy=0, recall_red=0
    )
    assert moca.score(answers, {"education_years": 13}).total == 25
    assert moca.score(answers, {"education_years": 13}).positive
    r = moca.score(answers, {"education_years": 12})
    assert (r.total, r.positive, r.detail["education_point"]) == (26, False, 1)
    # Never above 30.
    assert moca.score(moca_answers(), {"education_years": 6}).total == 30


# --- Morse ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "total", "level"),
    [
        ({}, 0, "low"),
        ({"secondary_diagnosis": 15}, 15, "low"),
        ({"secondary_diagnosis": 15, "gait": 10}, 25, "moderate"),
        ({"history_of_falling": 25, "gait": 10}, 35, "moderate"),
        ({"iv_or_heparin_lock": 20, "ambulatory_aid": 15, "gait": 10}, 45, "high"),
        (
            {
                "history_of_falling": 25,
                "secondary_diagnosis": 15,
                "ambulatory_aid": 30,
                "iv_or_heparin_lock": 20,
                "gait": 20,
                "mental_status": 15,
            },
            125,
            "high",
        ),
    ],
)
def test_morse_bands(answers: dict[str, int], total: int, level: str) -> None:
    r = morse.score(zero("morse") | answers)
    assert (r.total, r.level, r.positive) == (total, level, level == "high")


def test_morse_band_edges() -> None:
    assert [morse.level_of(t) for t in (24, 25, 44, 45)] == ["low", "moderate", "moderate", "high"]


# --- validation shared by every scale -------------------------------------------------------


@pytest.mark.parametrize("scale", sorted(scales.SCALES))
def test_answers_are_validated(scale: str) -> None:
    ctx = {"education_years": 9}
    good = zero(scale)
    scales.score(scale, good, ctx)
    first = scales.items_of(scale)[0].key
    for bad in (
        {k: v for k, v in good.items() if k != first},
        good | {"extra": 0},
        good | {first: True},
        good | {first: "1"},
        good | {first: 99},
    ):
        with pytest.raises(ScaleError):
            scales.score(scale, bad, ctx)


def test_unknown_scale() -> None:
    with pytest.raises(ScaleError, match="unknown scale"):
        scales.score("katz", {})
