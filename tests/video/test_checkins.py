"""Scheduled check-ins (video.checkins): due times in the facility's zone, done, missed, pending."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from video.checkins import CHECKIN_GRACE_S, due_times, judge, parse_hhmm

TZ = "Asia/Shanghai"


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, tz: str = TZ) -> float:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(tz)).timestamp()


def test_weekly_due_times_in_local_time() -> None:
    # Wednesdays (ISO 3) at 10:00 Shanghai time through November 2026: the 4th, 11th, 18th, 25th.
    due = due_times(weekdays=[3], at_local="10:00", tz=TZ, start=at(2026, 11, 1), end=at(2026, 12, 1))
    assert due == [at(2026, 11, d, 10) for d in (4, 11, 18, 25)]
    # Across a DST change the local time holds (Europe/Berlin, 29 March 2026).
    berlin = due_times(
        weekdays=[7, 1], at_local="09:30", tz="Europe/Berlin",
        start=at(2026, 3, 28, tz="Europe/Berlin"), end=at(2026, 3, 31, tz="Europe/Berlin"),
    )
    assert [datetime.fromtimestamp(t, ZoneInfo("Europe/Berlin")).hour for t in berlin] == [9, 9]
    assert due_times(weekdays=[], at_local="10:00", tz=TZ, start=0, end=1e9) == []


def test_done_missed_pending() -> None:
    due = [at(2026, 11, 4, 10), at(2026, 11, 11, 10), at(2026, 11, 18, 10)]
    answered = [(7, at(2026, 11, 4, 9, 0)), (8, at(2026, 11, 16, 10))]  # an hour early; a Monday
    now = at(2026, 11, 18, 12)
    judged = judge("R-2", due, answered, now=now)
    assert [(j.status, j.call_id) for j in judged] == [("done", 7), ("missed", None), ("pending", None)]
    later = judge("R-2", due, answered, now=due[2] + CHECKIN_GRACE_S + 1)
    assert later[2].status == "missed"


@pytest.mark.parametrize("bad", ["24:00", "9:00", "10:60", "ten", ""])
def test_bad_times(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(bad)
