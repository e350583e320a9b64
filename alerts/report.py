"""Response-time statistics per facility, shift and alert type, and false-alarm rates.

Definitions (hub clock, seconds):
- raise -> ack: `acknowledged_at - raised_at` (the alert's first acknowledgement: a screen, or a
  staff presence at the button; an alert closed without one counts its resolution);
- ack -> presence (calls): `detail.presence_at - acknowledged_at`, 0 when presence itself was the
  acknowledgement; presence -> resolve: `resolved_at - detail.presence_at`;
- median and p90 (linear interpolation) over the alerts raised in the window; alerts cancelled by
  the resident or closed because a device came back (`cancelled`, `device_returned`) are left out:
  nobody had to respond;
- false-alarm rate of a type: resolved alerts with outcome `false_alarm` (for falls also those
  whose three care-home answers say it was not a real fall) over resolved alerts with a telling
  outcome.
For context: nurse-call response in senior living averages about 8 minutes across more than 500
sites, about 2 minutes for the best tenth; no regulation sets a figure (FIELD-NOTES, care practice).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.models import Alert
from alerts.policy import NEUTRAL_OUTCOMES, is_false_alarm, shift_at
from care_hub.kernel.db import make_engine, make_session_factory, now_s
from care_hub.kernel.models import Facility

CONTEXT = (
    "Context: nurse-call response in senior living averages about 8 minutes across more "
    "than 500 sites, about 2 minutes for the best tenth; no regulation sets a figure."
)
STAGES = ("raise_to_ack", "ack_to_presence", "presence_to_resolve")


@dataclass(frozen=True, slots=True)
class AlertTimes:
    facility_id: int | None
    type: str
    shift: str
    raised_at: float
    acknowledged_at: float | None
    presence_at: float | None
    resolved_at: float | None
    outcome: str | None
    answers: dict[str, Any] | None


def summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median_s": None, "p90_s": None}
    arr = np.asarray(values, dtype=float)
    return {
        "n": int(arr.size),
        "median_s": round(float(np.median(arr)), 3),
        "p90_s": round(float(np.percentile(arr, 90)), 3),
    }


def stage_durations(a: AlertTimes) -> dict[str, float | None]:
    ack = None if a.acknowledged_at is None else max(0.0, a.acknowledged_at - a.raised_at)
    presence = resolve = None
    if a.presence_at is not None:
        if a.acknowledged_at is not None:
            presence = max(0.0, a.presence_at - a.acknowledged_at)
        if a.resolved_at is not None:
            resolve = max(0.0, a.resolved_at - a.presence_at)
    return {"raise_to_ack": ack, "ack_to_presence": presence, "presence_to_resolve": resolve}


def response_time_report(rows: Iterable[AlertTimes]) -> list[dict[str, Any]]:
    """One row per (facility, shift, type), plus an "all" shift row per (facility, type)."""
    groups: dict[tuple[int | None, str, str], list[AlertTimes]] = defaultdict(list)
    for a in rows:
        groups[(a.facility_id, a.shift, a.type)].append(a)
        groups[(a.facility_id, "all", a.type)].append(a)
    out = []
    for (facility_id, shift, type_), alerts in sorted(
        groups.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1] != "all", kv[0][1], kv[0][2])
    ):
        stages: dict[str, list[float]] = {s: [] for s in STAGES}
        for a in alerts:
            if a.outcome in NEUTRAL_OUTCOMES:
                continue
            for stage, value in stage_durations(a).items():
                if value is not None:
                    stages[stage].append(value)
        verdicts = [is_false_alarm(a.type, a.outcome, a.answers) for a in alerts if a.resolved_at]
        judged = [v for v in verdicts if v is not None]
        out.append(
            {
                "facility_id": facility_id,
                "shift": shift,
                "type": type_,
                "alerts": len(alerts),
                **{s: summary(v) for s, v in stages.items()},
                "resolved": len(judged),
                "false_alarms": sum(judged),
                "false_alarm_rate": round(sum(judged) / len(judged), 4) if judged else None,
            }
        )
    return out


async def load_alert_times(
    session: AsyncSession, *, since: float, until: float, facility_id: int | None = None
) -> list[AlertTimes]:
    query = select(Alert).where(Alert.raised_at >= since, Alert.raised_at <= until)
    if facility_id is not None:
        query = query.where(Alert.facility_id == facility_id)
    alerts = (await session.scalars(query.order_by(Alert.raised_at))).all()
    settings: dict[int | None, dict[str, Any]] = {}
    out = []
    for a in alerts:
        if a.facility_id not in settings:
            f = await session.get(Facility, a.facility_id) if a.facility_id is not None else None
            settings[a.facility_id] = (
                {**(f.settings or {}), "timezone": f.timezone} if f is not None else {}
            )
        detail = a.detail or {}
        out.append(
            AlertTimes(
                a.facility_id,
                a.type,
                shift_at(a.raised_at, settings[a.facility_id]),
                a.raised_at,
                a.acknowledged_at,
                detail.get("presence_at"),
                a.resolved_at,
                a.outcome,
                detail.get("answers"),
            )
        )
    return out


async def build_report(
    session: AsyncSession, *, since: float, until: float, facility_id: int | None = None
) -> dict[str, Any]:
    rows = response_time_report(
        await load_alert_times(session, since=since, until=until, facility_id=facility_id)
    )
    return {
        "from": since,
        "to": until,
        "facility_id": facility_id,
        "definitions": __doc__,
        "context": CONTEXT,
        "rows": rows,
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def render_table(report: dict[str, Any]) -> str:
    head = (
        f"{'facility':>8} {'shift':<6} {'type':<15} {'alerts':>6} "
        f"{'ack med':>8} {'ack p90':>8} {'pres med':>8} {'pres p90':>8} "
        f"{'close med':>9} {'close p90':>9} {'false alarms':>12}"
    )
    lines = [head, "-" * len(head)]
    for r in report["rows"]:
        rate = (
            "-"
            if r["false_alarm_rate"] is None
            else f"{100 * r['false_alarm_rate']:.0f}% of {r['resolved']}"
        )
        lines.append(
            f"{r['facility_id'] or '-':>8} {r['shift']:<6} {r['type']:<15} {r['alerts']:>6} "
            f"{_fmt(r['raise_to_ack']['median_s']):>8} {_fmt(r['raise_to_ack']['p90_s']):>8} "
            f"{_fmt(r['ack_to_presence']['median_s']):>8} {_fmt(r['ack_to_presence']['p90_s']):>8} "
            f"{_fmt(r['presence_to_resolve']['median_s']):>9} {_fmt(r['presence_to_resolve']['p90_s']):>9} "
            f"{rate:>12}"
        )
    if not report["rows"]:
        lines.append("(no alerts in this window)")
    lines += [
        "",
        "ack = raise -> acknowledge; pres = acknowledge -> staff presence in the room (calls);",
        "close = presence -> resolve. " + CONTEXT,
    ]
    return "\n".join(lines)


async def report_for(
    db_url: str, *, days: float, facility_id: int | None
) -> dict[str, Any]:
    """Build the report of the last `days` days straight from a database (the CLI's entry)."""
    engine = make_engine(db_url)
    try:
        async with make_session_factory(engine)() as session:
            until = now_s()
            return await build_report(
                session, since=until - days * 86_400, until=until, facility_id=facility_id
            )
    finally:
        await engine.dispose()
