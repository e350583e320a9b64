"""The contract's limits and the schema's columns cannot disagree (issue 11, fault 1).

A `status` with a 41-64 character `fw` passed the contract and failed a 40-character column on
PostgreSQL (SQLite does not enforce lengths), losing its whole batch. These tests walk both: every
column that stores a contract field is at least as wide as the contract allows, and a maximal valid
message of every kind, decoded by the contract, stores on SQLite and on PostgreSQL after the
migrations ran.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from sqlalchemy import BigInteger, String, func, select, text

from care_hub import migrate
from care_hub.all_models import Base
from care_hub.kernel import limits
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.kernel.models import Facility, Measurement, Resident, ZoneVisit
from devices.contract import REASONS, decode, topic_for
from devices.dedupe import SeqTracker
from devices.events import TOPIC_KINDS, ButtonEvent, KitEvent, RadarVitalsEvent, StatusEvent
from devices.models import DeadLetter, Device, DeviceSeq
from devices.registry import DeviceInfo
from devices.supervision import StatusBook
from tests.conftest import PG_URL

# Reasons the ingest layer adds to the contract's own (care_hub/ingest): stored in the same column.
INGEST_REASONS = (
    "unknown_device",
    "wrong_device_type",
    "unknown_resident",
    "store_failed",
    "signal_core_error",
    "detection_store_failed",
)

# (table, column) -> the contract limit of the field it stores. Every string column that holds a
# device id, a resident id or another device-supplied string is listed; a new one belongs here.
STRING_LIMITS: dict[tuple[str, str], int] = {
    ("devices", "id"): limits.MAX_DEVICE_ID_CHARS,
    ("devices", "fw"): limits.MAX_FW_CHARS,
    ("devices", "state"): limits.MAX_STATE_CHARS,
    ("devices", "resident_id"): limits.MAX_RESIDENT_CHARS,  # foreign key: residents.id's type
    ("device_bindings", "device_id"): limits.MAX_DEVICE_ID_CHARS,
    ("device_bindings", "resident_id"): limits.MAX_RESIDENT_CHARS,
    ("family_links", "resident_id"): limits.MAX_RESIDENT_CHARS,
    ("device_seqs", "device_id"): limits.MAX_DEVICE_ID_CHARS,
    ("device_seqs", "kind"): limits.MAX_TOPIC_KIND_CHARS,
    ("dead_letters", "device_id"): limits.MAX_DEVICE_ID_CHARS,
    ("dead_letters", "topic"): limits.MAX_DEVICE_TOPIC_CHARS,
    ("dead_letters", "reason"): limits.MAX_REASON_CHARS,
    ("residents", "id"): limits.MAX_RESIDENT_CHARS,
    ("measurements", "resident_id"): limits.MAX_RESIDENT_CHARS,
    ("measurements", "device_id"): limits.MAX_DEVICE_ID_CHARS,
    ("measurements", "kind"): limits.MAX_KIT_KIND_CHARS,
    ("zone_visits", "resident_id"): limits.MAX_RESIDENT_CHARS,
    ("zone_visits", "device_id"): limits.MAX_DEVICE_ID_CHARS,
    ("event_log", "resident_id"): limits.MAX_RESIDENT_CHARS,
    ("alerts", "resident_id"): limits.MAX_RESIDENT_CHARS,
    ("alerts", "device_id"): limits.MAX_DEVICE_ID_CHARS,
    ("alert_events", "actor"): limits.MAX_DEVICE_ID_CHARS,  # a username or a device id
}
# Integer columns holding contract integers: wide enough for the contract's maximum.
INTEGER_LIMITS: dict[tuple[str, str], int] = {
    ("device_seqs", "last_seq"): limits.MAX_SEQ,
    ("device_seqs", "boot"): limits.MAX_BOOT,
}


def _column(table: str, column: str) -> object:
    return Base.metadata.tables[table].c[column].type


@pytest.mark.parametrize(("table", "column"), sorted(STRING_LIMITS))
def test_string_column_is_as_wide_as_the_contract_allows(table: str, column: str) -> None:
    kind = _column(table, column)
    assert isinstance(kind, String)
    assert kind.length is None or kind.length >= STRING_LIMITS[(table, column)], (
        f"{table}.{column} holds {kind.length} characters, the contract allows "
        f"{STRING_LIMITS[(table, column)]}"
    )


@pytest.mark.parametrize(("table", "column"), sorted(INTEGER_LIMITS))
def test_integer_column_holds_the_contract_maximum(table: str, column: str) -> None:
    assert isinstance(_column(table, column), BigInteger)
    assert INTEGER_LIMITS[(table, column)] <= 2**63 - 1


ID_LIMITS = {"device_id": limits.MAX_DEVICE_ID_CHARS, "resident_id": limits.MAX_RESIDENT_CHARS}


def test_every_device_id_and_resident_id_column_is_wide_enough() -> None:
    """A new column named like a device or resident id, in any package (care records, video
    calls...), cannot escape the walk: as wide as the contract's id, or a key to a column that is."""
    for table in Base.metadata.tables.values():
        for column in table.c:
            if column.name not in ID_LIMITS or not isinstance(column.type, String):
                continue
            length = column.type.length
            for fk in column.foreign_keys:  # a foreign key takes its target's type
                target = fk.column.type
                length = target.length if isinstance(target, String) else length
            assert length is not None and length >= ID_LIMITS[column.name], (
                f"{table.name}.{column.name}: {length} < {ID_LIMITS[column.name]}"
            )


def test_derived_limits_match_the_contract() -> None:
    assert max(map(len, TOPIC_KINDS)) == limits.MAX_TOPIC_KIND_CHARS
    assert len(topic_for("d" * limits.MAX_DEVICE_ID_CHARS, "radar/frames")) == (
        limits.MAX_DEVICE_TOPIC_CHARS
    )
    assert max(map(len, REASONS + INGEST_REASONS)) <= limits.MAX_REASON_CHARS
    kit_kinds = ("blood_pressure", "glucose", "spo2", "temperature", "pulse")
    assert max(map(len, kit_kinds)) == limits.MAX_KIT_KIND_CHARS


# --- Maximal messages stored on both backends ------------------------------------------------------

DEVICE = "d" * limits.MAX_DEVICE_ID_CHARS
RESIDENT = "R" * limits.MAX_RESIDENT_CHARS
TS = limits.MAX_TS_S
MAXIMAL = {  # kind -> payload with every string at its longest and every number at its largest
    "status": {
        "ts": TS,
        "seq": limits.MAX_SEQ,
        "boot": limits.MAX_BOOT,
        "state": "offline",
        "battery": 1.0,
        "fw": "f" * limits.MAX_FW_CHARS,
        "rssi": limits.MAX_RSSI_DBM,
    },
    "button": {"ts": TS, "seq": limits.MAX_SEQ, "boot": limits.MAX_BOOT, "action": "presence"},
    "kit": {
        "ts": TS,
        "seq": limits.MAX_SEQ,
        "boot": limits.MAX_BOOT,
        "resident": RESIDENT,
        "kind": "blood_pressure",
        "values": {
            "systolic": limits.SYSTOLIC_MAX_MMHG,
            "diastolic": limits.DIASTOLIC_MAX_MMHG,
            "pulse": limits.PULSE_MAX_BPM,
        },
    },
    "radar/vitals": {
        "ts": TS,
        "seq": limits.MAX_SEQ,
        "tid": limits.MAX_TID,
        "fs": limits.MAX_VITALS_FS_HZ,
        "displacement_mm": [limits.MAX_ABS_DISPLACEMENT_MM] * 100,
    },
    "radar/frames": {
        "ts": TS,
        "seq": limits.MAX_SEQ,
        "fps": limits.MAX_FPS,
        "frames": [{"targets": [{"tid": limits.MAX_TID, "x": 1.0, "y": 1.0, "z": 1.0}]}],
    },
}


async def _store_maximal(url: str, schema: str | None) -> None:
    events = {kind: decode(topic_for(DEVICE, kind), orjson.dumps(p)) for kind, p in MAXIMAL.items()}
    status, kit = events["status"], events["kit"]
    assert isinstance(status, StatusEvent) and isinstance(kit, KitEvent)
    assert isinstance(events["button"], ButtonEvent)
    assert isinstance(events["radar/vitals"], RadarVitalsEvent)
    engine = make_engine(url, schema=schema)
    try:
        factory = make_session_factory(engine)
        async with factory() as session:
            session.add(Facility(id=1, name="Home"))
            await session.flush()
            session.add(Resident(id=RESIDENT, facility_id=1, name="Resident"))
            session.add(Device(id=DEVICE, type="kit", facility_id=1, resident_id=RESIDENT))
            await session.flush()
            # status: the real writer of device health.
            info = DeviceInfo(DEVICE, "kit", 1, None, RESIDENT, slot=0)
            await StatusBook().apply(session, [(info, status, TS)])
            # Every kind's seq mark, at its largest seq, ts and boot.
            seqs = SeqTracker()
            for ev in events.values():
                env = ev.env
                assert seqs.accept(env.device_id, env.kind, env.seq, ts=env.ts, boot=env.boot)
            await seqs.flush(session)
            session.add(
                Measurement(
                    resident_id=kit.resident,
                    device_id=kit.env.device_id,
                    kind=kit.kit_kind,
                    ts=kit.env.ts,
                    values=dict(kit.values),
                    source="kit",
                )
            )
            session.add(
                ZoneVisit(resident_id=RESIDENT, device_id=DEVICE, zone="bathroom", entered_at=TS)
            )
            for reason in REASONS + INGEST_REASONS:
                session.add(
                    DeadLetter(
                        device_id=DEVICE,
                        topic=topic_for(DEVICE, "radar/frames"),
                        reason=reason,
                    )
                )
            await session.commit()
        async with factory() as session:
            assert await session.scalar(select(Device.fw)) == "f" * limits.MAX_FW_CHARS
            marks = (await session.scalars(select(DeviceSeq))).all()
            assert {(m.kind, m.last_seq, m.boot) for m in marks} == {
                (kind, limits.MAX_SEQ, limits.MAX_BOOT if "boot" in p else None)
                for kind, p in MAXIMAL.items()
            }
            assert await session.scalar(select(func.count()).select_from(DeadLetter)) == len(
                REASONS + INGEST_REASONS
            )
            assert await session.scalar(select(Measurement.resident_id)) == RESIDENT
    finally:
        await engine.dispose()


def test_maximal_messages_store_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'limits.db'}"
    migrate.upgrade(url)
    asyncio.run(_store_maximal(url, None))


@pytest.mark.postgres
def test_maximal_messages_store_on_postgres(pg_schema: str) -> None:
    migrate.upgrade(PG_URL, schema=pg_schema)
    asyncio.run(_store_maximal(PG_URL, pg_schema))


@pytest.mark.postgres
def test_long_firmware_was_refused_before_migration_0003(pg_schema: str) -> None:
    """The fault reproduced: at 0002, PostgreSQL refuses a 64-character fw the contract accepts."""
    migrate.upgrade(PG_URL, "0002", schema=pg_schema)

    async def store_long_fw() -> None:
        # Plain SQL: the ORM models are at head and name columns 0002 does not have.
        engine = make_engine(PG_URL, schema=pg_schema)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO facilities (id, name, settings) VALUES (1, 'F', '{}')")
                )
                await conn.execute(
                    text(
                        "INSERT INTO devices (id, type, facility_id, zone_map, state, fw, "
                        "rejected_count, created_at) VALUES ('d1', 'button', 1, '{}', 'online', "
                        ":fw, 0, 0)"
                    ),
                    {"fw": "f" * limits.MAX_FW_CHARS},
                )
        finally:
            await engine.dispose()

    with pytest.raises(Exception, match="too long"):
        asyncio.run(store_long_fw())
