"""When a recurring care task is next due, in the facility's local time and shifts (pure).

A task is due once per occurrence; a completion satisfies the occurrence it falls in:
- every N hours: N hours after the last completion (or the task's start); with `shifts`, a due
  time outside them moves to the start of the next allowed shift (night checks only at night);
- daily at HH:MM: each day at that local time; a completion up to `DAILY_EARLY_S` before it counts;
- once per shift: by the end of each run of the named shift.
Shifts are `Facility.settings.shifts` ("HH:MM-HH:MM" local, may wrap midnight), as alerts use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.policy import DEFAULT_SHIFTS

RECURRENCES = ("every_hours", "daily", "per_shift")
# A daily task done up to 2 h early counts for that day (a morning round starting at 06:00 for an
# 08:00 blood pressure); earlier than that it counts for nothing and today's is still due.
DAILY_EARLY_S = 2 * 3600.0
# A task is overdue 30 min after it was due: room for a caregiver busy with a call (FIELD-NOTES:
# nurse-call response averages ~8 min) before the wall shows it.
OVERDUE_GRACE_S = 30 * 60.0
# Local days looked at around a time when searching for the next occurrence of a shift or a time.
_SEARCH_DAYS = range(-1, 4)


@dataclass(frozen=True, slots=True)
class TaskSchedule:
    """What `next_due` needs of a task (plain data, so this module never sees the ORM)."""

    recurrence: str
    starts_at: float
    interval_h: float | None = None
    time_of_day: str | None = None
    shift: str | None = None
    shifts: tuple[str, ...] = ()


def parse_hhmm(value: str) -> time:
    hours, _, minutes = value.partition(":")
    h, m = int(hours), int(minutes)
    if not (0 <= h < 24 and 0 <= m < 60) or len(minutes) != 2:
        raise ValueError(f"time of day must be HH:MM, got {value!r}")
    return time(h, m)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local_day(ts: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts, tz).date()


def _at(day: date, t: time, tz: ZoneInfo) -> float:
    return datetime.combine(day, t, tzinfo=tz).timestamp()


def shift_runs(
    name: str, around_s: float, shifts: dict[str, str] | None, tz: ZoneInfo
) -> list[tuple[float, float]]:
    """Runs (start, end) of one named shift over the local days around `around_s`, in order."""
    span = (shifts or DEFAULT_SHIFTS).get(name)
    if span is None:
        raise ValueError(f"unknown shift {name!r}")
    start_s, _, end_s = str(span).partition("-")
    start, end = parse_hhmm(start_s.strip()), parse_hhmm(end_s.strip())
    today = _local_day(around_s, tz)
    runs = []
    for offset in _SEARCH_DAYS:
        day = today + timedelta(days=offset)
        end_day = day if end > start else day + timedelta(days=1)
        runs.append((_at(day, start, tz), _at(end_day, end, tz)))
    return runs


def _into_shifts(
    ts: float, allowed: tuple[str, ...], shifts: dict[str, str] | None, tz: ZoneInfo
) -> float:
    """`ts` if it falls in one of the allowed shifts, else the next start of one of them."""
    best = None
    for name in allowed:
        for start, end in shift_runs(name, ts, shifts, tz):
            if start <= ts < end:
                return ts
            if start > ts and (best is None or start < best):
                best = start
    return ts if best is None else best


def next_due(
    task: TaskSchedule,
    last_done_s: float | None,
    *,
    shifts: dict[str, str] | None = None,
    tz: ZoneInfo | None = None,
) -> float:
    """When the task is next due, given its last completion (None: never done)."""
    tz = tz or ZoneInfo("UTC")
    if task.recurrence == "every_hours":
        if not task.interval_h or task.interval_h <= 0:
            raise ValueError("every_hours needs interval_h > 0")
        base = task.starts_at if last_done_s is None else last_done_s
        due = base + task.interval_h * 3600.0
        return _into_shifts(due, task.shifts, shifts, tz) if task.shifts else due
    if task.recurrence == "daily":
        at = parse_hhmm(task.time_of_day or "")
        after = task.starts_at if last_done_s is None else last_done_s + DAILY_EARLY_S
        first = _local_day(after, tz) + timedelta(days=_SEARCH_DAYS.start)
        for offset in range(len(_SEARCH_DAYS) + 1):
            occurrence = _at(first + timedelta(days=offset), at, tz)
            if occurrence > after or (last_done_s is None and occurrence == after):
                return occurrence
        raise AssertionError("a daily occurrence is always found within the search days")
    if task.recurrence == "per_shift":
        if not task.shift:
            raise ValueError("per_shift needs a shift")
        around = task.starts_at if last_done_s is None else last_done_s
        for start, end in shift_runs(task.shift, around, shifts, tz):
            if last_done_s is None and end > task.starts_at:
                return end
            if last_done_s is not None and start > last_done_s:
                return end
        raise AssertionError("a shift run is always found within the search days")
    raise ValueError(f"unknown recurrence {task.recurrence!r}; one of {', '.join(RECURRENCES)}")


def overdue_since(
    task: TaskSchedule,
    last_done_s: float | None,
    now_s: float,
    *,
    shifts: dict[str, Any] | None = None,
    tz: ZoneInfo | None = None,
) -> float | None:
    """The due time of a task that is overdue at `now_s` (past due by the grace), else None."""
    due = next_due(task, last_done_s, shifts=shifts, tz=tz)
    return due if now_s > due + OVERDUE_GRACE_S else None
