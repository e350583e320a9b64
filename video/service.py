"""Video use cases over the database: resident screens, call records and their audit, history,
check-in schedules. Keyword-only; nothing here commits (the caller's transaction does)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.kernel.db import now_s
from care_hub.kernel.models import Facility, FamilyLink, Resident, User
from care_hub.kernel.security import RESIDENT_SCREEN_ROLE, hash_password_off_loop
from video import calls as c
from video.checkins import MAX_RANGE_DAYS, Checkin, due_times, judge
from video.models import CheckinSchedule, ResidentScreen, VideoCall, VideoCallEvent


class VideoError(ValueError):
    """A request that cannot be carried out (a 409 or 404 at the API)."""


def video_settings(resident: Resident) -> dict[str, Any]:
    """`Resident.settings["video"]`: auto_answer, family_may_join, call_button (all off by default)."""
    raw = (resident.settings or {}).get("video")
    return raw if isinstance(raw, dict) else {}


async def create_resident_screen(*, session: AsyncSession, resident_id: str, name: str) -> User:
    """A user of role resident_screen bound to one resident. It has no facility (so no staff
    scope anywhere) and no usable password: it signs in with the token issued at creation."""
    resident = await session.get(Resident, resident_id)
    if resident is None:
        raise VideoError(f"resident {resident_id} does not exist")
    user = User(
        username=f"screen-{resident_id}-{secrets.token_hex(4)}",
        name=name,
        password_hash=await hash_password_off_loop(secrets.token_urlsafe(32)),
        role=RESIDENT_SCREEN_ROLE,
        facility_id=None,
    )
    session.add(user)
    await session.flush()
    session.add(ResidentScreen(user_id=user.id, resident_id=resident_id))
    await session.flush()
    return user


async def screen_resident(*, session: AsyncSession, user_id: int) -> Resident | None:
    """The resident a resident screen is bound to."""
    rid = await session.scalar(
        select(ResidentScreen.resident_id).where(ResidentScreen.user_id == user_id)
    )
    return None if rid is None else await session.get(Resident, rid)


async def resident_screen_ids(*, session: AsyncSession, resident_id: str) -> list[int]:
    rows = await session.scalars(
        select(ResidentScreen.user_id)
        .join(User, User.id == ResidentScreen.user_id)
        .where(ResidentScreen.resident_id == resident_id, User.is_active.is_(True))
    )
    return sorted(rows.all())


async def list_resident_screens(
    *, session: AsyncSession, facility_id: int | None
) -> list[dict[str, Any]]:
    query = (
        select(ResidentScreen, User, Resident)
        .join(User, User.id == ResidentScreen.user_id)
        .join(Resident, Resident.id == ResidentScreen.resident_id)
        .order_by(ResidentScreen.user_id)
    )
    if facility_id is not None:
        query = query.where(Resident.facility_id == facility_id)
    return [
        {"id": u.id, "name": u.name, "resident_id": r.id, "active": u.is_active}
        for _, u, r in (await session.execute(query)).all()
    ]


async def family_joiner_ids(*, session: AsyncSession, resident: Resident) -> list[int]:
    """Family members who may join the resident's calls: none unless the resident allows it."""
    if not video_settings(resident).get("family_may_join"):
        return []
    rows = await session.scalars(
        select(FamilyLink.user_id)
        .join(User, User.id == FamilyLink.user_id)
        .where(
            FamilyLink.resident_id == resident.id,
            User.is_active.is_(True),
            User.role == "family",
        )
    )
    return sorted(rows.all())


async def insert_call(
    *,
    session: AsyncSession,
    resident: Resident,
    caller: User,
    kind: str,
    alert_id: int | None,
    at: float,
) -> VideoCall:
    row = VideoCall(
        facility_id=resident.facility_id,
        resident_id=resident.id,
        kind=kind,
        caller_user_id=caller.id,
        caller_name=caller.name or caller.username,
        alert_id=alert_id,
        state=c.RINGING,
        started_at=at,
    )
    session.add(row)
    await session.flush()
    session.add(
        VideoCallEvent(
            call_id=row.id,
            at=at,
            action="started",
            actor_user_id=caller.id,
            actor=caller.username,
            data={"kind": kind, "alert_id": alert_id},
        )
    )
    return row


async def record_step(
    *, session: AsyncSession, call: c.Call, action: str, actor_user_id: int | None, at: float
) -> None:
    """Write a call's new state to its row and one audit row."""
    row = await session.get(VideoCall, call.id)
    if row is None:
        return
    row.state = call.state
    row.answered_at = call.answered_at
    row.answered_by_user_id = call.answered_by_user_id
    row.ended_at = call.ended_at
    row.ended_by = call.ended_by
    row.guests = sorted(set(row.guests or []) | set(call.guests.values()))
    session.add(
        VideoCallEvent(
            call_id=call.id,
            at=at,
            action=action,
            actor_user_id=actor_user_id,
            actor=call.ended_by or (f"user:{actor_user_id}" if actor_user_id else ""),
            data={"state": call.state},
        )
    )


async def end_stale_calls(*, session: AsyncSession, at: float) -> int:
    """Calls a previous hub process left ringing or answered (live calls are in one process's
    memory): ended, by hub_restart."""
    result = await session.execute(
        update(VideoCall)
        .where(VideoCall.state.in_([c.RINGING, c.ANSWERED]))
        .values(
            state=c.ENDED,
            ended_at=at,
            ended_by="hub_restart",
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def call_public(row: VideoCall, resident_name: str | None = None) -> dict[str, Any]:
    duration = (
        max(0.0, row.ended_at - row.answered_at)
        if row.answered_at is not None and row.ended_at is not None
        else None
    )
    return {
        "id": row.id,
        "kind": row.kind,
        "facility_id": row.facility_id,
        "resident_id": row.resident_id,
        "resident_name": resident_name,
        "caller_user_id": row.caller_user_id,
        "caller_name": row.caller_name,
        "alert_id": row.alert_id,
        "outcome": row.state,
        "started_at": row.started_at,
        "answered_at": row.answered_at,
        "ended_at": row.ended_at,
        "ended_by": row.ended_by,
        "duration_s": duration,
        "guests": row.guests or [],
    }


async def list_calls(
    *,
    session: AsyncSession,
    facility_id: int | None,
    resident_id: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    query = (
        select(VideoCall, Resident.name)
        .join(Resident, Resident.id == VideoCall.resident_id)
        .order_by(VideoCall.started_at.desc(), VideoCall.id.desc())
        .limit(limit)
    )
    if facility_id is not None:
        query = query.where(VideoCall.facility_id == facility_id)
    if resident_id is not None:
        query = query.where(VideoCall.resident_id == resident_id)
    if since is not None:
        query = query.where(VideoCall.started_at >= since)
    if until is not None:
        query = query.where(VideoCall.started_at < until)
    return [call_public(row, name) for row, name in (await session.execute(query)).all()]


async def call_audit(*, session: AsyncSession, call_id: int) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(VideoCallEvent).where(VideoCallEvent.call_id == call_id).order_by(VideoCallEvent.id)
    )
    return [
        {"at": e.at, "action": e.action, "actor_user_id": e.actor_user_id, "actor": e.actor}
        for e in rows.all()
    ]


async def set_schedule(
    *, session: AsyncSession, resident: Resident, weekdays: list[int], at_local: str, active: bool
) -> CheckinSchedule:
    row = await session.get(CheckinSchedule, resident.id)
    if row is None:
        row = CheckinSchedule(resident_id=resident.id, facility_id=resident.facility_id, since=now_s())
        session.add(row)
    row.weekdays = sorted(set(weekdays))
    row.at_local = at_local
    row.active = active
    await session.flush()
    return row


def schedule_public(row: CheckinSchedule) -> dict[str, Any]:
    return {
        "resident_id": row.resident_id,
        "facility_id": row.facility_id,
        "weekdays": row.weekdays,
        "at_local": row.at_local,
        "active": row.active,
        "since": row.since,
    }


async def list_schedules(*, session: AsyncSession, facility_id: int | None) -> list[CheckinSchedule]:
    query = select(CheckinSchedule).order_by(CheckinSchedule.resident_id)
    if facility_id is not None:
        query = query.where(CheckinSchedule.facility_id == facility_id)
    return list((await session.scalars(query)).all())


async def list_checkins(
    *,
    session: AsyncSession,
    facility_id: int | None,
    since: float,
    until: float,
    now: float,
) -> list[dict[str, Any]]:
    """Every due check-in of active schedules in [since, until), judged against answered calls."""
    since = max(since, until - MAX_RANGE_DAYS * 86_400)
    out: list[dict[str, Any]] = []
    for schedule in await list_schedules(session=session, facility_id=facility_id):
        if not schedule.active:
            continue
        resident = await session.get(Resident, schedule.resident_id)
        facility = await session.get(Facility, schedule.facility_id)
        if resident is None or facility is None:
            continue
        due = due_times(
            weekdays=schedule.weekdays,
            at_local=schedule.at_local,
            tz=facility.timezone,
            start=max(since, schedule.since),
            end=until,
        )
        if not due:
            continue
        answered = await session.execute(
            select(VideoCall.id, VideoCall.started_at).where(
                VideoCall.resident_id == resident.id,
                VideoCall.answered_at.is_not(None),
                VideoCall.started_at >= min(due) - 86_400,
                VideoCall.started_at <= max(due) + 86_400,
            )
        )
        judged: list[Checkin] = judge(
            resident.id, due, [(int(i), float(t)) for i, t in answered.all()], now=now
        )
        out += [
            {
                "resident_id": j.resident_id,
                "resident_name": resident.name,
                "due_at": j.due_at,
                "status": j.status,
                "call_id": j.call_id,
            }
            for j in judged
        ]
    return sorted(out, key=lambda r: (r["due_at"], r["resident_id"]))
