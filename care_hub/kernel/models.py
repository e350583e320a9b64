"""ORM models of the care domain: facilities, rooms, zones, residents, users, measurements, trail, event log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from care_hub.kernel.db import Base, now_s
from care_hub.kernel.limits import MAX_DEVICE_ID_CHARS, MAX_RESIDENT_CHARS
from care_hub.kernel.local_time import DEFAULT_TIMEZONE


class Facility(Base):
    __tablename__ = "facilities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Per-facility tunables (fall confirmation time, escalation timeouts, night hours...).
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # IANA time zone: night rules, "not up by" and daily summaries run in it.
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)


class Room(Base):
    __tablename__ = "rooms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    floor: Mapped[str | None] = mapped_column(String(50))
    wing: Mapped[str | None] = mapped_column(String(50))


class Zone(Base):
    """A named area of a room in the radar's room coordinates (metres)."""

    __tablename__ = "zones"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))  # bed, bathroom, chair, door, ...
    # {"rect": [x0, y0, x1, y1]} or {"polygon": [[x, y], ...]}
    shape: Mapped[dict[str, Any]] = mapped_column()


class Resident(Base):
    __tablename__ = "residents"
    # e.g. R-0042, as kits know it
    id: Mapped[str] = mapped_column(String(MAX_RESIDENT_CHARS), primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    name: Mapped[str] = mapped_column(String(200))
    lives_alone: Mapped[bool] = mapped_column(Boolean, default=False)
    at_risk_wandering: Mapped[bool] = mapped_column(Boolean, default=False)
    # NEWS2 SpO2 scale 2 applies to hypercapnic respiratory failure (RCP 2017).
    hypercapnic: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[float] = mapped_column(Float, default=now_s)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # admin | caregiver | family
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float, default=now_s)
    # Embedded in every token and websocket ticket; bumped on password change, deactivation and
    # "sign out everywhere", which revokes every token and closes every socket issued before.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class FamilyLink(Base):
    __tablename__ = "family_links"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), primary_key=True)
    # Alert types this relative chose to receive; empty list means all.
    alert_types: Mapped[list[Any]] = mapped_column(default=list)


class Measurement(Base):
    """A vital sign: a health-kit reading or a radar-derived value (stored at a modest rate)."""

    __tablename__ = "measurements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[str | None] = mapped_column(String(MAX_RESIDENT_CHARS), index=True)
    device_id: Mapped[str | None] = mapped_column(String(MAX_DEVICE_ID_CHARS))
    kind: Mapped[str] = mapped_column(String(40))  # >= MAX_KIT_KIND_CHARS; radar kinds too
    ts: Mapped[float] = mapped_column(Float)
    values: Mapped[dict[str, Any]] = mapped_column()
    source: Mapped[str] = mapped_column(String(10))  # kit | radar
    __table_args__ = (Index("ix_measurements_resident_kind_ts", "resident_id", "kind", "ts"),)


class ZoneVisit(Base):
    """One stay in one zone: the activity trail is stored as visits, not frames."""

    __tablename__ = "zone_visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[str | None] = mapped_column(String(MAX_RESIDENT_CHARS))
    device_id: Mapped[str] = mapped_column(String(MAX_DEVICE_ID_CHARS))
    zone: Mapped[str] = mapped_column(String(50))
    entered_at: Mapped[float] = mapped_column(Float)
    left_at: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (Index("ix_zone_visits_resident_entered", "resident_id", "entered_at"),)


class EventLog(Base):
    """Every event sent to screens, persisted so a client resuming with `since=<seq>` misses nothing."""

    __tablename__ = "event_log"
    # Replay reads one audience's events in seq order (EventBus.replay_pages): a caregiver's by
    # facility, a family member's by resident, so neither walks the rest of the hub's log.
    __table_args__ = (
        Index("ix_event_log_facility_seq", "facility_id", "seq"),
        Index("ix_event_log_resident_seq", "resident_id", "seq"),
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, default=now_s)
    type: Mapped[str] = mapped_column(String(40))
    facility_id: Mapped[int | None] = mapped_column(Integer)
    resident_id: Mapped[str | None] = mapped_column(String(MAX_RESIDENT_CHARS))
    data: Mapped[dict[str, Any]] = mapped_column()
    # Routing fields: wall screens subscribe per floor/wing; `recipients` lists the user
    # ids an event is addressed to by the roster (None: everyone allowed to see the facility).
    floor: Mapped[str | None] = mapped_column(String(50))
    wing: Mapped[str | None] = mapped_column(String(50))
    recipients: Mapped[list[Any] | None] = mapped_column()
