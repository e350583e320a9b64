"""What the sensors saw, as the plain facts guidance rules read (pure functions over rows as tuples).

Nights and days are local to the facility. A night is 22:00-07:00 (the behaviour rules' night,
`care_hub.signal_core.behaviour`), named by the date it starts on. A series holds only nights or
days the trail covered (any visit overlapping it), so a radar that was off is not read as "no
bathroom visits".
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from care_hub.signal_core.behaviour import NIGHT_END_H, NIGHT_START_H

BED, BATHROOM = "bed", "bathroom"
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Visit:
    zone: str
    entered_at: float
    left_at: float | None  # None: still there


def _hours(h: float) -> time:
    return time(int(h), int(round((h % 1) * 60)))


def night_window(day: date, tz: ZoneInfo) -> tuple[float, float]:
    start = datetime.combine(day, _hours(NIGHT_START_H), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), _hours(NIGHT_END_H), tzinfo=tz)
    return start.timestamp(), end.timestamp()


def day_window(day: date, tz: ZoneInfo) -> tuple[float, float]:
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.timestamp(), end.timestamp()


def _covered(visits: Sequence[Visit], start: float, end: float, now: float) -> bool:
    return any(
        v.entered_at < end and (v.left_at if v.left_at is not None else now) > start for v in visits
    )


def night_bed_exits(
    visits: Sequence[Visit], nights: Iterable[date], tz: ZoneInfo, *, now: float
) -> list[int]:
    """Per covered night: times the resident left the bed during the night and came back to it
    before the night ended (the final getting-up in the morning is not an exit)."""
    beds = sorted((v for v in visits if v.zone == BED), key=lambda v: v.entered_at)
    out = []
    for night in nights:
        start, end = night_window(night, tz)
        if not _covered(visits, start, end, now):
            continue
        exits = sum(
            1
            for a, b in zip(beds, beds[1:], strict=False)
            if a.left_at is not None and start <= a.left_at < end and b.entered_at < end
        )
        out.append(exits)
    return out


def night_zone_visits(
    visits: Sequence[Visit], zone: str, nights: Iterable[date], tz: ZoneInfo, *, now: float
) -> list[int]:
    """Per covered night: visits to `zone` that began during the night."""
    out = []
    for night in nights:
        start, end = night_window(night, tz)
        if _covered(visits, start, end, now):
            out.append(sum(1 for v in visits if v.zone == zone and start <= v.entered_at < end))
    return out


def out_of_bed_hours(
    visits: Sequence[Visit], days: Iterable[date], tz: ZoneInfo, *, now: float
) -> list[float]:
    """Per covered, finished day: hours not spent in the bed zone."""
    out = []
    for day in days:
        start, end = day_window(day, tz)
        if end > now or not _covered(visits, start, end, now):
            continue
        in_bed = sum(
            max(
                0.0,
                min(end, v.left_at if v.left_at is not None else now) - max(start, v.entered_at),
            )
            for v in visits
            if v.zone == BED
        )
        out.append(round((end - start - in_bed) / 3600.0, 3))
    return out


def daily_medians(
    samples: Sequence[tuple[float, float]], days: Iterable[date], tz: ZoneInfo
) -> list[float]:
    """Per day with samples: the median value (radar resting rates, stored about once a minute)."""
    out = []
    for day in days:
        start, end = day_window(day, tz)
        values = [v for ts, v in samples if start <= ts < end]
        if values:
            out.append(float(statistics.median(values)))
    return out


def past_days(today: date, count: int, *, skip: int = 0) -> list[date]:
    """`count` dates before `today` (oldest first), leaving out the `skip` most recent ones."""
    return [today - timedelta(days=n) for n in range(skip + count, skip, -1)]
