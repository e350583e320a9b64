"""Behaviour rules over zone visits and device time: bed exits, inactivity, daily summaries.

Pure functions: the caller passes one resident's recent visits (the ongoing one with ``left_at``
None), when anyone was last seen, and the device time now; rules return the alerts that hold now.
An alert's ``key`` identifies the situation, so the caller raises each key once.
Telecare practice (FIELD-NOTES, "Care practice"): inactivity monitoring allows 30 minutes to 50
hours without activity before alarming; bed sensors alarm when a person has not got up by a set
time, has not returned to bed within a set time, or has not gone to bed by a set time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

from care_hub.signal_core.zones import ZoneVisit

HOUR_S = 3600.0
DAY_S = 86400.0

# Night: 22:00-07:00 local, a common care-home night shift.
NIGHT_START_H = 22.0
NIGHT_END_H = 7.0
# At-risk residents: alert when out of bed at night and not back within 10 min (bed-exit alarms
# are usually immediate; a short grace covers a toilet trip next to the bed).
BED_EXIT_RETURN_MIN = 10.0
# Everyone: not back in bed 60 min after getting up at night.
NOT_BACK_TO_BED_MIN = 60.0
# A long bathroom stay: 45 min (inside telecare's 30 min-50 h range, at its short end because
# bathrooms are where falls go unseen).
BATHROOM_MAX_MIN = 45.0
# Lives alone: nobody seen for 12 h (telecare allows 30 min-50 h; 12 h spans a night's sleep).
NO_MOVEMENT_H = 12.0
# Not up by 10:00 local.
UP_BY_H = 10.0
# "Not in bed by" is off unless set per resident (e.g. 23.5 for 23:30): bedtimes vary too much
# for one default. Judged for this many hours after the set time (then the night rules take over).
IN_BED_BY_WINDOW_H = 6.0

AlertKind = Literal["bed_exit", "inactivity"]
Reason = Literal[
    "bed_exit", "bathroom_long", "no_movement", "not_up_by", "not_back_to_bed", "not_in_bed_by"
]


@dataclass(frozen=True, slots=True)
class ResidentSettings:
    at_risk_of_falls: bool = False  # bed_exit alerts only for these
    lives_alone: bool = False  # no-movement alerts only for these
    # The facility's IANA time zone (DST-safe): every rule a person reads runs in local time.
    # None: a fixed offset from UTC instead (`utc_offset_s`, 0 by default).
    timezone: str | None = None
    utc_offset_s: float = 0.0  # local time = device UTC time + offset, when no timezone
    night_start_h: float = NIGHT_START_H
    night_end_h: float = NIGHT_END_H
    bed_exit_return_min: float = BED_EXIT_RETURN_MIN
    not_back_to_bed_min: float = NOT_BACK_TO_BED_MIN
    bathroom_max_min: float = BATHROOM_MAX_MIN
    no_movement_h: float = NO_MOVEMENT_H
    up_by_h: float | None = UP_BY_H  # None: rule off
    in_bed_by_h: float | None = None  # None: rule off


@dataclass(frozen=True, slots=True)
class BehaviourAlert:
    kind: AlertKind
    reason: Reason
    since_s: float  # device time the situation started
    key: str  # stable per situation: raise once per key

    @staticmethod
    def make(kind: AlertKind, reason: Reason, since_s: float) -> BehaviourAlert:
        return BehaviourAlert(kind, reason, since_s, f"{reason}@{since_s:.0f}")


@dataclass(frozen=True, slots=True)
class DailySummary:
    day_start_s: float
    time_in_bed_s: float
    time_active_s: float  # in the room, at the door or in the bathroom (up and about)
    time_away_s: float
    bathroom_visits: int
    night_bed_exits: int
    room_changes: int  # zone transitions


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(t_s: float, s: ResidentSettings) -> datetime:
    """Wall-clock time at ``t_s`` where the resident lives (naive for a fixed offset)."""
    if s.timezone:
        return datetime.fromtimestamp(t_s, _zone(s.timezone))
    return datetime.fromtimestamp(t_s + s.utc_offset_s, UTC).replace(tzinfo=None)


def local_hour(t_s: float, s: ResidentSettings) -> float:
    d = _local(t_s, s)
    return d.hour + d.minute / 60 + (d.second + d.microsecond / 1e6) / 3600


def at_local_hour(t_s: float, s: ResidentSettings, hour_h: float, *, days_back: int = 0) -> float:
    """Epoch seconds of local clock time ``hour_h`` on the local date of ``t_s`` (less
    ``days_back`` days). On a day when clocks change, hours after the change still fall at their
    wall-clock time (23:00 is 23:00, whatever the day's length)."""
    d = _local(t_s, s).date() - timedelta(days=days_back)
    seconds = round(hour_h * HOUR_S)
    h, rest = divmod(seconds, 3600)
    m, sec = divmod(rest, 60)
    day = h // 24
    wall = datetime(d.year, d.month, d.day) + timedelta(
        days=day, hours=h % 24, minutes=m, seconds=sec
    )
    if s.timezone:
        return wall.replace(tzinfo=_zone(s.timezone)).timestamp()
    return wall.replace(tzinfo=UTC).timestamp() - s.utc_offset_s


def local_midnight(t_s: float, s: ResidentSettings) -> float:
    """Start of the local day containing ``t_s``, in epoch seconds (daily summaries start here)."""
    return at_local_hour(t_s, s, 0.0)


def is_night(t_s: float, s: ResidentSettings) -> bool:
    h = local_hour(t_s, s)
    if s.night_start_h > s.night_end_h:
        return h >= s.night_start_h or h < s.night_end_h
    return s.night_start_h <= h < s.night_end_h


def evaluate(
    visits: Sequence[ZoneVisit],
    now_s: float,
    settings: ResidentSettings,
    last_seen_s: float | None = None,
) -> list[BehaviourAlert]:
    """Alerts that hold at ``now_s`` for one resident, from their visits in time order."""
    out: list[BehaviourAlert] = []
    if not visits:
        return out
    cur = visits[-1]
    # long bathroom stay
    if cur.zone == "bathroom" and now_s - cur.entered_at >= settings.bathroom_max_min * 60:
        out.append(BehaviourAlert.make("inactivity", "bathroom_long", cur.entered_at))
    # nobody seen in a home where the resident lives alone
    if (
        settings.lives_alone
        and last_seen_s is not None
        and cur.zone != "away"
        and now_s - last_seen_s >= settings.no_movement_h * HOUR_S
    ):
        out.append(BehaviourAlert.make("inactivity", "no_movement", last_seen_s))
    # out of bed at night and not back
    if cur.zone != "bed":
        last_bed = next((v for v in reversed(visits) if v.zone == "bed"), None)
        if (
            last_bed is not None
            and last_bed.left_at is not None
            and is_night(last_bed.left_at, settings)
        ):
            out_for = now_s - last_bed.left_at
            if settings.at_risk_of_falls and out_for >= settings.bed_exit_return_min * 60:
                out.append(BehaviourAlert.make("bed_exit", "bed_exit", last_bed.left_at))
            if out_for >= settings.not_back_to_bed_min * 60:
                out.append(BehaviourAlert.make("inactivity", "not_back_to_bed", last_bed.left_at))
    # still in bed after the set time, having gone to bed before it
    if settings.up_by_h is not None and cur.zone == "bed":
        h = local_hour(now_s, settings)
        up_by = at_local_hour(now_s, settings, settings.up_by_h)
        if now_s >= up_by and cur.entered_at < up_by and h < settings.night_start_h:
            out.append(BehaviourAlert.make("inactivity", "not_up_by", up_by))
    # not gone to bed by the set time (and not out of the home)
    if settings.in_bed_by_h is not None and cur.zone not in ("bed", "away"):
        deadline = at_local_hour(now_s, settings, settings.in_bed_by_h)
        if deadline > now_s:  # latest past occurrence: yesterday's
            deadline = at_local_hour(now_s, settings, settings.in_bed_by_h, days_back=1)
        in_bed_since = any(
            v.zone == "bed" and (v.left_at is None or v.left_at > deadline) for v in visits
        )
        if now_s - deadline < IN_BED_BY_WINDOW_H * HOUR_S and not in_bed_since:
            out.append(BehaviourAlert.make("inactivity", "not_in_bed_by", deadline))
    return out


def daily_summary(
    visits: Sequence[ZoneVisit],
    day_start_s: float,
    settings: ResidentSettings | None = None,
    now_s: float | None = None,
) -> DailySummary:
    """Summary of one local day from ``day_start_s`` (local midnight, see `local_midnight`) to the
    next local midnight (23 or 25 h on a day when clocks change). Ongoing visits are counted up
    to ``now_s`` (default: day end)."""
    s = settings or ResidentSettings()
    end = at_local_hour(day_start_s + 0.5 * DAY_S, s, 0.0, days_back=-1)
    until = min(end, now_s) if now_s is not None else end
    in_bed = active = away = 0.0
    bathroom = exits = changes = 0
    ordered = sorted(visits, key=lambda v: v.entered_at)
    for i, v in enumerate(ordered):
        a = max(v.entered_at, day_start_s)
        b = min(v.left_at if v.left_at is not None else until, until)
        if b <= a:
            continue
        dur = b - a
        if v.zone == "bed":
            in_bed += dur
            if v.left_at is not None and day_start_s <= v.left_at < end and is_night(v.left_at, s):
                nxt = ordered[i + 1] if i + 1 < len(ordered) else None
                if nxt is None or nxt.zone != "bed":
                    exits += 1
        elif v.zone == "away":
            away += dur
        elif v.zone in ("room", "door", "bathroom"):
            active += dur
        if v.zone == "bathroom" and v.entered_at >= day_start_s:
            bathroom += 1
        if i > 0 and v.entered_at >= day_start_s and ordered[i - 1].zone != v.zone:
            changes += 1
    return DailySummary(day_start_s, in_bed, active, away, bathroom, exits, changes)
