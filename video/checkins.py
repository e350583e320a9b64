"""Scheduled check-in calls: when each was due and whether an answered call covered it (pure).

A check-in is due on each chosen weekday at a local time (the facility's zone, DST-safe). It is
done when any answered call with the resident started within CHECKIN_EARLY_S before the due
time and CHECKIN_GRACE_S after it; missed when that window has passed without one; pending
while the window is open. Computed from the schedule and the call history, so no sweep has to
run for a missed check-in to be listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from care_hub.kernel.local_time import local_datetime, zone

# A nurse who calls a little early (the morning round) has still checked in.
CHECKIN_EARLY_S = 2 * 3600.0
# The rest of the day and the night after: a call made later that day still counts; past it the
# check-in is missed and listed for the next shift.
CHECKIN_GRACE_S = 22 * 3600.0
# Longest look-back of one listing, in days (a schedule of every day over a year is 365 rows).
MAX_RANGE_DAYS = 366
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Checkin:
    resident_id: str
    due_at: float
    status: str  # done | missed | pending
    call_id: int | None = None


def parse_hhmm(text: str) -> tuple[int, int]:
    m = _HHMM.match(text)
    if m is None:
        raise ValueError(f"time must be HH:MM (00:00-23:59), not {text!r}")
    return int(m.group(1)), int(m.group(2))


def due_times(
    *, weekdays: Iterable[int], at_local: str, tz: str, start: float, end: float
) -> list[float]:
    """Epoch seconds of every due time in [start, end): ISO weekdays (1 = Monday) at HH:MM local."""
    days = {int(d) for d in weekdays}
    if not days or end <= start:
        return []
    hour, minute = parse_hhmm(at_local)
    day = local_datetime(start, tz).date()
    last = local_datetime(end, tz).date()
    out: list[float] = []
    while day <= last:
        if day.isoweekday() in days:
            t = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone(tz)).timestamp()
            if start <= t < end:
                out.append(t)
        day += timedelta(days=1)
    return out


def judge(
    resident_id: str,
    due: Iterable[float],
    answered: Iterable[tuple[int, float]],
    *,
    now: float,
) -> list[Checkin]:
    """Each due time as done (an answered call (id, started_at) in its window), missed or pending."""
    calls = sorted(answered, key=lambda c: c[1])
    out: list[Checkin] = []
    for t in sorted(due):
        hit = next((cid for cid, at in calls if t - CHECKIN_EARLY_S <= at <= t + CHECKIN_GRACE_S), None)
        if hit is not None:
            out.append(Checkin(resident_id, t, "done", hit))
        elif now > t + CHECKIN_GRACE_S:
            out.append(Checkin(resident_id, t, "missed"))
        else:
            out.append(Checkin(resident_id, t, "pending"))
    return out
