"""When recurring tasks fall due (local time, shifts), what the trail says, reassessment reminders."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from care_records import evidence, reminders, schedule
from care_records.schedule import TaskSchedule, next_due, overdue_since

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=SH).timestamp()


def test_every_two_hours_from_the_last_completion() -> None:
    t = TaskSchedule("every_hours", starts_at=at("2026-03-01 08:00"), interval_h=2)
    assert next_due(t, None, tz=SH) == at("2026-03-01 10:00")
    assert next_due(t, at("2026-03-01 09:30"), tz=SH) == at("2026-03-01 11:30")


def test_night_checks_move_into_the_night_shift() -> None:
    t = TaskSchedule(
        "every_hours", starts_at=at("2026-03-01 08:00"), interval_h=2, shifts=("night",)
    )
    # Due 10:00 is day time: moves to the night shift's start, 19:00.
    assert next_due(t, None, tz=SH) == at("2026-03-01 19:00")
    # Inside the night (wrapping midnight) it stays every 2 h.
    assert next_due(t, at("2026-03-01 23:10"), tz=SH) == at("2026-03-02 01:10")
    # The last check at 06:00 -> 08:00 is day again: next night.
    assert next_due(t, at("2026-03-02 06:00"), tz=SH) == at("2026-03-02 19:00")


def test_daily_at_a_local_time_with_an_early_window() -> None:
    t = TaskSchedule("daily", starts_at=at("2026-03-01 07:00"), time_of_day="08:00")
    assert next_due(t, None, tz=SH) == at("2026-03-01 08:00")
    assert next_due(t, at("2026-03-01 07:50"), tz=SH) == at("2026-03-02 08:00")
    assert next_due(t, at("2026-03-01 06:30"), tz=SH) == at("2026-03-02 08:00")  # 1.5 h early
    assert next_due(t, at("2026-03-01 05:30"), tz=SH) == at("2026-03-01 08:00")  # too early
    late = TaskSchedule("daily", starts_at=at("2026-03-01 09:00"), time_of_day="08:00")
    assert next_due(late, None, tz=SH) == at("2026-03-02 08:00")


def test_once_per_shift_by_its_end() -> None:
    t = TaskSchedule("per_shift", starts_at=at("2026-03-01 20:00"), shift="night")
    assert next_due(t, None, tz=SH) == at("2026-03-02 07:00")
    assert next_due(t, at("2026-03-01 22:00"), tz=SH) == at("2026-03-03 07:00")
    custom = {"day": "08:00-20:00", "night": "20:00-08:00"}
    assert next_due(t, None, shifts=custom, tz=SH) == at("2026-03-02 08:00")


def test_overdue_after_the_grace() -> None:
    t = TaskSchedule("every_hours", starts_at=at("2026-03-01 08:00"), interval_h=2)
    due = at("2026-03-01 10:00")
    assert overdue_since(t, None, due + schedule.OVERDUE_GRACE_S, tz=SH) is None
    assert overdue_since(t, None, due + schedule.OVERDUE_GRACE_S + 1, tz=SH) == due


@pytest.mark.parametrize(
    "bad",
    [
        TaskSchedule("every_hours", 0.0),
        TaskSchedule("daily", 0.0, time_of_day="25:00"),
        TaskSchedule("per_shift", 0.0, shift="evening"),
        TaskSchedule("weekly", 0.0),
    ],
)
def test_bad_schedules(bad: TaskSchedule) -> None:
    with pytest.raises(ValueError):
        next_due(bad, None, tz=SH)


def test_trail_nights_and_days() -> None:
    v = evidence.Visit
    visits = [
        v("bed", at("2026-03-01 21:30"), at("2026-03-02 01:00")),
        v("bathroom", at("2026-03-02 01:02"), at("2026-03-02 01:10")),
        v("bed", at("2026-03-02 01:12"), at("2026-03-02 03:00")),
        v("bathroom", at("2026-03-02 03:01"), at("2026-03-02 03:05")),
        v("bed", at("2026-03-02 03:07"), at("2026-03-02 06:50")),  # getting up: not an exit
        v("chair", at("2026-03-02 06:52"), at("2026-03-02 21:00")),
        v("bed", at("2026-03-02 21:05"), None),
    ]
    now = at("2026-03-03 12:00")
    nights = [date(2026, 3, 1), date(2026, 2, 20)]  # the second night has no data
    assert evidence.night_bed_exits(visits, nights, SH, now=now) == [2]
    assert evidence.night_zone_visits(visits, "bathroom", nights, SH, now=now) == [2]
    hours = evidence.out_of_bed_hours(visits, [date(2026, 3, 2)], SH, now=now)
    in_bed = (1.0 + 1 + 48 / 60 + 3 + 43 / 60) + (2 + 55 / 60)
    assert hours == [pytest.approx(24 - in_bed, abs=0.01)]
    samples = [
        (at("2026-03-02 02:00"), 15.0),
        (at("2026-03-02 03:00"), 17.0),
        (at("2026-03-02 04:00"), 30.0),
    ]
    assert evidence.daily_medians(samples, [date(2026, 3, 2), date(2026, 3, 3)], SH) == [17.0]


def test_reassessment_reminders() -> None:
    last = at("2026-01-01 10:00")
    six_months = last + 6 * reminders.MONTH_S
    due = reminders.reassessment_due
    assert due("gbt42195", last_assessed_at=None, now=last).reason == "never_assessed"
    assert due("gbt42195", last_assessed_at=last, now=six_months - 1) is None
    assert due("gbt42195", last_assessed_at=last, now=six_months).reason == "periodic"
    fall = last + 86_400
    d = due("morse", last_assessed_at=last, now=fall + 1, falls=[last - 5, fall])
    assert (d.reason, d.since) == ("after_fall", fall)
    d = due("morse", last_assessed_at=last, now=fall + 1, hospital_stays=[fall - 10])
    assert d.reason == "after_hospital"
    assert due("morse", last_assessed_at=last, now=fall, falls=[last - 5]) is None
