"""ORM models of video calls: the call record, its audit trail, resident screens, check-in schedules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from care_hub.kernel.db import Base, now_s
from care_hub.kernel.limits import MAX_RESIDENT_CHARS


class VideoCall(Base):
    """One call: who called whom, when, how long, and how it ended. Never media: nothing is
    recorded (docs/video.md, privacy)."""

    __tablename__ = "video_calls"
    __table_args__ = (
        Index("ix_video_calls_facility_started", "facility_id", "started_at"),
        Index("ix_video_calls_resident_started", "resident_id", "started_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"))
    kind: Mapped[str] = mapped_column(String(10))  # staff | button | checkin
    caller_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    # The call alert of a resident's video-call press, when the call answers one.
    alert_id: Mapped[int | None] = mapped_column(Integer)
    # ringing | answered | declined | no_answer | cancelled | ended
    state: Mapped[str] = mapped_column(String(12))
    started_at: Mapped[float] = mapped_column(Float, default=now_s)
    answered_at: Mapped[float | None] = mapped_column(Float)
    answered_by_user_id: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[float | None] = mapped_column(Float)
    # user:<id> | timeout | connection_lost | presence | alert_resolved | hub_restart
    ended_by: Mapped[str | None] = mapped_column(String(40))
    # Family members who joined (user ids).
    guests: Mapped[list[Any]] = mapped_column(default=list)


class VideoCallEvent(Base):
    """The audit trail of a call: every transition, with who caused it."""

    __tablename__ = "video_call_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("video_calls.id"), index=True)
    at: Mapped[float] = mapped_column(Float, default=now_s)
    # started | answered | declined | no_answer | cancelled | ended | joined | left
    action: Mapped[str] = mapped_column(String(12))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ResidentScreen(Base):
    """A resident's room or home screen: a user of role `resident_screen` bound to one resident."""

    __tablename__ = "video_resident_screens"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    created_at: Mapped[float] = mapped_column(Float, default=now_s)


class CheckinSchedule(Base):
    """Scheduled check-in calls for one resident (people living alone): weekdays at a local time."""

    __tablename__ = "video_checkin_schedules"
    resident_id: Mapped[str] = mapped_column(
        String(MAX_RESIDENT_CHARS), ForeignKey("residents.id"), primary_key=True
    )
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    # ISO weekdays, Monday = 1 .. Sunday = 7.
    weekdays: Mapped[list[Any]] = mapped_column(default=list)
    at_local: Mapped[str] = mapped_column(String(5))  # "HH:MM" in the facility's time zone
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Check-ins are counted from here (a new schedule has no missed past).
    since: Mapped[float] = mapped_column(Float, default=now_s)
