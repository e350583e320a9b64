"""ORM models of the device registry: devices, their binding history, dedupe marks and dead letters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from care_hub.kernel.db import Base, now_s
from care_hub.kernel.limits import (
    MAX_DEVICE_ID_CHARS,
    MAX_FW_CHARS,
    MAX_REASON_CHARS,
    MAX_RESIDENT_CHARS,
)


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(MAX_DEVICE_ID_CHARS), primary_key=True)  # MQTT id
    type: Mapped[str] = mapped_column(String(10))  # radar | button | kit
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    resident_id: Mapped[str | None] = mapped_column(ForeignKey("residents.id"))
    # Radar zone map override: {"bed": {"rect": [...]}, ...}; empty means the room's zones.
    zone_map: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(10), default="unknown")  # online | offline | unknown
    last_seen_at: Mapped[float | None] = mapped_column(Float)
    battery: Mapped[float | None] = mapped_column(Float)
    fw: Mapped[str | None] = mapped_column(String(MAX_FW_CHARS))
    rssi: Mapped[float | None] = mapped_column(Float)
    clock_skew_s: Mapped[float | None] = mapped_column(Float)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float, default=now_s)
    # What the fall detector learned of the bound resident here, to survive restarts:
    # {"resident_id": "R-1", "heights": {"upright_m": 0.86}, "at": epoch s}.
    learned: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A radar's height calibration, set at installation: metres its centroids read above what
    # the detectors assume (a model or mounting that reads high: docs/detection.md, round 25).
    # The radar processor subtracts it from every height before the signal core sees it.
    height_offset_m: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class DeviceBinding(Base):
    """Where a device was and whom it watched, so re-binding keeps its history."""

    __tablename__ = "device_bindings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    room_id: Mapped[int | None] = mapped_column(Integer)
    resident_id: Mapped[str | None] = mapped_column(String(MAX_RESIDENT_CHARS))
    bound_at: Mapped[float] = mapped_column(Float, default=now_s)
    unbound_at: Mapped[float | None] = mapped_column(Float)


class DeviceSeq(Base):
    """Highest `seq` ingested per device and topic: duplicates stay ignored across hub restarts."""

    __tablename__ = "device_seqs"
    device_id: Mapped[str] = mapped_column(String(MAX_DEVICE_ID_CHARS), primary_key=True)
    # Wider than MAX_TOPIC_KIND_CHARS (12) since 0001; narrowing would buy nothing.
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    # Highest device `ts` of the current counter run: a lower-or-equal seq with a later ts is a
    # counter restart, with an earlier or equal ts a redelivery or replay (devices/dedupe.py).
    last_ts: Mapped[float | None] = mapped_column(Float)
    # The device's boot counter at last_seq, if it sends one (optional v1 extension).
    boot: Mapped[int | None] = mapped_column(BigInteger)
    # Which of the SEQ_WINDOW seqs below last_seq were accepted (bit i: last_seq - 1 - i), so a
    # message that arrives after a later one is still taken once (devices/dedupe.py); NULL: all.
    seen: Mapped[int | None] = mapped_column(BigInteger)
    # Device ts of the message that began the current counter run (a restart), if one did.
    since: Mapped[float | None] = mapped_column(Float)


class DeadLetter(Base):
    """A rejected message: who sent it, where, why, and a safe excerpt."""

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float, default=now_s)
    device_id: Mapped[str | None] = mapped_column(String(MAX_DEVICE_ID_CHARS))
    # Valid device topics are at most MAX_DEVICE_TOPIC_CHARS; bad ones are cut to 300 when written.
    topic: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(String(MAX_REASON_CHARS))
    detail: Mapped[str] = mapped_column(Text, default="")
    excerpt: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_dead_letters_at", "at"),)
