"""ORM models of alerts and their audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from care_hub.db import Base, now_s


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    type: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(15), default="open")
    resident_id: Mapped[str | None] = mapped_column(String(64), index=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
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
    __table_args__ = (Index("ix_alerts_dedupe_state", "dedupe_key", "state"),)


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
