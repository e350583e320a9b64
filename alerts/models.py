"""ORM models of alerts and their audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from care_hub.kernel.db import Base, now_s
from care_hub.kernel.limits import MAX_DEVICE_ID_CHARS, MAX_RESIDENT_CHARS


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    type: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(15), default="open")
    resident_id: Mapped[str | None] = mapped_column(String(MAX_RESIDENT_CHARS), index=True)
    device_id: Mapped[str | None] = mapped_column(String(MAX_DEVICE_ID_CHARS))
    # One alert per situation: an open alert with the same key is updated, not duplicated.
    dedupe_key: Mapped[str] = mapped_column(String(200))
    raised_at: Mapped[float] = mapped_column(Float, default=now_s)
    last_seen_at: Mapped[float] = mapped_column(Float, default=now_s)
    count: Mapped[int] = mapped_column(Integer, default=1)
    acknowledged_at: Mapped[float | None] = mapped_column(Float)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[float | None] = mapped_column(Float)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(40))
    assigned_to: Mapped[int | None] = mapped_column(Integer)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    # Persisted so escalation resumes after a hub restart.
    next_escalation_at: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Where the alert is, copied at raise time so routing (wall screens per floor/wing, coverage
    # areas) needs no join on the hot path and stays what it was when the alert was raised.
    floor: Mapped[str | None] = mapped_column(String(50))
    wing: Mapped[str | None] = mapped_column(String(50))
    # Re-announce an unacknowledged alert at this time (persisted like next_escalation_at).
    next_reminder_at: Mapped[float | None] = mapped_column(Float)
    # A snoozed alert is neither reminded nor escalated until then (bounded, audited).
    snoozed_until: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (
        Index("ix_alerts_dedupe_state", "dedupe_key", "state"),
        Index("ix_alerts_state_next_escalation", "state", "next_escalation_at"),
    )


class AlertEvent(Base):
    """Audit trail: every transition with who, when, from where, note and outcome."""

    __tablename__ = "alert_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[float] = mapped_column(Float, default=now_s)
    action: Mapped[str] = mapped_column(String(30))  # raised, updated, acknowledged, resolved, ...
    actor: Mapped[str | None] = mapped_column(String(100))  # username, device id or "system"
    source: Mapped[str] = mapped_column(String(20), default="system")  # api | device | system
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CoverageAssignment(Base):
    """The roster: who covers which part of a facility during which shift, and at which tier.

    An area is any of floors, wings or residents (a set of homes in home care); all empty means
    the whole facility. `duty` is `caregiver` (first responder) or `charge_nurse` (escalation tier).
    """

    __tablename__ = "coverage_assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    shift: Mapped[str] = mapped_column(String(20))  # a shift name from Facility.settings["shifts"]
    duty: Mapped[str] = mapped_column(String(20), default="caregiver")
    floors: Mapped[list[Any]] = mapped_column(default=list)
    wings: Mapped[list[Any]] = mapped_column(default=list)
    resident_ids: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
