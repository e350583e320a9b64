"""Reminders and escalation on a controllable clock, and a restart past a deadline escalating once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import routing, service
from alerts.escalation import EscalationEngine
from alerts.models import Alert, AlertEvent
from care_hub.hub import Hub
from care_hub.kernel.events import Audience, EventBus
from care_hub.kernel.models import EventLog
from care_hub.kernel.settings import AlertSettings, Settings
from tests.alerts.conftest import Db, alert_seed, set_roster
from tests.conftest import Backend, prepare_database

T0 = 1_764_331_200.0  # 12:00 UTC, day shift


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _raise_fall(db: Db, *, at: float = T0, resident: str = "R-1") -> int:
    async with db.factory() as session:
        alert, _ = await service.raise_alert(
            session,
            db.bus,
            type="fall",
            severity="critical",
            facility_id=1,
            resident_id=resident,
            device_id=f"t-radar-{resident[-1]}",
            dedupe_key=f"fall:{resident}",
            detail={},
            at=at,
        )
        await db.bus.commit(session)
        return alert.id


async def _events(db: Db, type_: str) -> list[EventLog]:
    async with db.factory() as session:
        return list(
            (
                await session.scalars(
                    select(EventLog).where(EventLog.type == type_).order_by(EventLog.seq)
                )
            ).all()
        )


async def _alert(db: Db, alert_id: int) -> Alert:
    async with db.factory() as session:
        alert = await session.get(Alert, alert_id)
        assert alert is not None
        return alert


async def test_reminders_then_charge_nurse_then_family_then_ack_stops(db: Db) -> None:
    async with db.factory() as session:
        ids = await set_roster(session)
    clock = Clock(T0)
    engine = EscalationEngine(db.factory, db.bus, AlertSettings(), clock=clock)
    alert_id = await _raise_fall(db)
    raised = (await _events(db, "alert.raised"))[0]
    assert raised.recipients == [ids["nurse"]]  # floor 1's caregiver on the day shift

    clock.now = T0 + 1
    await engine.tick()
    alert = await _alert(db, alert_id)
    assert (alert.next_escalation_at, alert.next_reminder_at) == (T0 + 60, T0 + 30)
    assert await _events(db, "alert.reminder") == []

    clock.now = T0 + 31
    await engine.tick()
    reminders = await _events(db, "alert.reminder")
    assert len(reminders) == 1 and reminders[0].data["reason"] == "unacknowledged"
    assert (await _alert(db, alert_id)).escalation_level == 0

    clock.now = T0 + 61
    await engine.tick()
    escalated = await _events(db, "alert.escalated")
    assert [e.data["tier"] for e in escalated] == ["charge_nurse"]
    assert sorted(escalated[0].recipients or []) == sorted([ids["nurse"], ids["charge"]])
    alert = await _alert(db, alert_id)
    assert alert.escalation_level == 1 and alert.next_escalation_at == T0 + 61 + 60
    family = Audience(resident_ids=frozenset({"R-1"}))
    assert not family.allows(_public(escalated[0]))

    clock.now = T0 + 125
    await engine.tick()
    escalated = await _events(db, "alert.escalated")
    assert [e.data["tier"] for e in escalated] == ["charge_nurse", "family"]
    assert family.allows(_public(escalated[1]))
    assert not Audience(resident_ids=frozenset({"R-2"})).allows(_public(escalated[1]))
    alert = await _alert(db, alert_id)
    assert alert.escalation_level == 2 and alert.next_escalation_at is None  # the last tier

    async with db.factory() as session:
        row = await session.get(Alert, alert_id)
        assert row is not None
        await service.acknowledge(session, db.bus, row, actor="charge", source="api", at=T0 + 130)
        await db.bus.commit(session)
    reminders_before = len(await _events(db, "alert.reminder"))
    clock.now = T0 + 3600
    assert await engine.tick() == 0
    assert len(await _events(db, "alert.reminder")) == reminders_before
    async with db.factory() as session:
        actions = (
            await session.scalars(
                select(AlertEvent.action)
                .where(AlertEvent.alert_id == alert_id)
                .order_by(AlertEvent.id)
            )
        ).all()
    assert actions == ["raised", "escalated", "escalated", "acknowledged"]


async def test_facility_timeouts_and_low_severity_never_escalates(db: Db) -> None:
    async with db.factory() as session:
        from care_hub.kernel.models import Facility

        facility = await session.get(Facility, 1)
        assert facility is not None
        facility.settings = {
            "alerts": {"ack_timeout_s": {"critical": 10}, "reminder_interval_s": 5}
        }
        await session.commit()
        low, _ = await service.raise_alert(
            session,
            db.bus,
            type="battery_low",
            severity="low",
            facility_id=1,
            resident_id="R-1",
            device_id="t-btn-1",
            dedupe_key="battery_low:t-btn-1",
            detail={},
            at=T0,
        )
        await db.bus.commit(session)
    clock = Clock(T0 + 11)
    fall_id = await _raise_fall(db, at=T0)
    engine = EscalationEngine(db.factory, db.bus, AlertSettings(), clock=clock)
    await engine.tick()
    assert (await _alert(db, fall_id)).escalation_level == 1
    clock.now = T0 + 10_000
    await engine.tick()
    low_row = await _alert(db, low.id)
    assert low_row.escalation_level == 0 and low_row.next_escalation_at is None
    assert all(e.data["id"] != low.id for e in await _events(db, "alert.reminder"))


async def test_restart_past_deadline_escalates_once(db: Db) -> None:
    clock = Clock(T0 + 1)
    alert_id = await _raise_fall(db)
    await EscalationEngine(db.factory, db.bus, AlertSettings(), clock=clock).tick()
    assert (await _alert(db, alert_id)).next_escalation_at == T0 + 60
    # The hub is down for ten minutes: five critical deadlines pass. A fresh engine and bus
    # (a restarted process) escalates one tier, once, and re-arms from now.
    clock.now = T0 + 600
    restarted = EscalationEngine(db.factory, EventBus(db.factory), AlertSettings(), clock=clock)
    await restarted.tick()
    await restarted.tick()
    alert = await _alert(db, alert_id)
    assert alert.escalation_level == 1 and alert.next_escalation_at == T0 + 660
    # ... and a second restart at the same moment does not escalate it again.
    await EscalationEngine(db.factory, EventBus(db.factory), AlertSettings(), clock=clock).tick()
    assert (await _alert(db, alert_id)).escalation_level == 1
    assert len(await _events(db, "alert.escalated")) == 1


async def test_concurrent_ticks_in_one_process_escalate_once(db: Db) -> None:
    """SQLite ignores FOR UPDATE: two ticks of one engine at once (the loop's and a caller's)
    must still see each other's escalation, not both escalate from the same read."""
    clock = Clock(T0 + 1)
    alert_id = await _raise_fall(db)
    engine = EscalationEngine(db.factory, db.bus, AlertSettings(), clock=clock)
    await engine.tick()
    clock.now = T0 + 300
    await asyncio.gather(*(engine.tick() for _ in range(4)))
    assert (await _alert(db, alert_id)).escalation_level == 1
    assert len(await _events(db, "alert.escalated")) == 1


async def test_an_ack_committed_while_a_tick_reads_is_not_escalated_over(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A nurse acknowledges between the tick's read of due alerts and its write. SQLite ignores
    FOR UPDATE, so without a guard the tick escalated the acknowledged alert from its stale read
    and announced it as open again."""
    clock = Clock(T0 + 1)
    alert_id = await _raise_fall(db)
    engine = EscalationEngine(db.factory, db.bus, AlertSettings(), clock=clock)
    await engine.tick()
    clock.now = T0 + 300
    acks: list[asyncio.Task[None]] = []

    async def acknowledge() -> None:
        async with db.factory() as session:
            alert = await session.get(Alert, alert_id)
            assert alert is not None
            await service.acknowledge(session, db.bus, alert, actor="nurse", source="screen")
            await db.bus.commit(session)

    settings_of = routing.facility_settings

    async def ack_meanwhile(session: AsyncSession, facility_id: int | None) -> dict[str, Any]:
        if not acks:  # the nurse's ack, from another session, while this tick is under way
            acks.append(asyncio.create_task(acknowledge()))
            await asyncio.wait(acks, timeout=1.0)  # done unless this tick holds the write lock
        return await settings_of(session, facility_id)

    monkeypatch.setattr(routing, "facility_settings", ack_meanwhile)
    await engine.tick()
    await asyncio.gather(*acks)
    assert (await _alert(db, alert_id)).state == "acknowledged"
    async with db.factory() as session:
        actions = (
            await session.scalars(
                select(AlertEvent.action)
                .where(AlertEvent.alert_id == alert_id, AlertEvent.action != "raised")
                .order_by(AlertEvent.id)
            )
        ).all()
    # escalated before the ack, or not at all; never over it
    assert list(actions) in (["escalated", "acknowledged"], ["acknowledged"]), actions
    escalated = await _events(db, "alert.escalated")
    assert all(e.data["state"] == "open" for e in escalated)
    if escalated:
        acked = [e for e in await _events(db, "alert.updated") if e.data["state"] == "acknowledged"]
        assert acked and escalated[-1].seq < acked[0].seq


async def test_real_hub_restart_resumes_persisted_deadline_once(tmp_path: Path) -> None:
    """The escalation loop started by Hub.start: state comes from the database, not memory."""
    settings = Settings(_env_file=None, environment="test", data_dir=tmp_path / "var")  # type: ignore[call-arg]
    settings.alerts.escalation_tick_s = 3600  # the loop ticks once at start; the test ticks by hand
    backend = Backend("embedded", settings, None)
    await asyncio.to_thread(prepare_database, backend, alert_seed("t-"))
    clock = Clock(T0 + 1)
    # The clock is the hub's from its first tick: the loop's tick at start must not see real time.
    hub = await Hub.start(settings, ingest=False, clock=clock)
    try:
        assert hub.escalation is not None and hub.escalation.clock is clock
        db = Db(hub.session_factory, hub.bus)
        alert_id = await _raise_fall(db)
        await hub.escalation.tick()
    finally:
        await hub.stop()
    clock.now = T0 + 300  # past the deadline while the hub was down
    for _ in range(2):  # two restarts in a row
        hub = await Hub.start(settings, ingest=False, clock=clock)
        try:
            assert hub.escalation is not None
            await hub.escalation.tick()
            await hub.escalation.tick()
            db = Db(hub.session_factory, hub.bus)
            alert = await _alert(db, alert_id)
            escalations = await _events(db, "alert.escalated")
        finally:
            await hub.stop()
        assert alert.escalation_level == 1 and len(escalations) == 1


def _public(row: EventLog) -> dict:  # type: ignore[type-arg]
    return {
        "seq": row.seq,
        "type": row.type,
        "data": row.data,
        "facility_id": row.facility_id,
        "resident_id": row.resident_id,
        "floor": row.floor,
        "wing": row.wing,
        "recipients": row.recipients,
    }
