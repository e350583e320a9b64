"""Alert lifecycle through alerts.service: transitions and their audit, dedupe, overrides, snooze."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from alerts import service
from alerts.detections import handle_detection
from alerts.models import Alert, AlertEvent
from alerts.policy import MAX_SNOOZE_S
from care_hub.kernel.detections import FallFound
from care_hub.kernel.models import EventLog, Facility
from devices.registry import DeviceInfo
from tests.alerts.conftest import Db, user_id

T0 = 1_764_331_200.0  # 2025-11-28 12:00 UTC: the day shift


async def _raise(
    db: Db,
    session,
    *,
    type="call",
    severity="high",
    key="call:t-btn-1",  # type: ignore[no-untyped-def]
    resident="R-1",
    device="t-btn-1",
    at=T0,
):
    alert, created = await service.raise_alert(
        session,
        db.bus,
        type=type,
        severity=severity,
        facility_id=1,
        resident_id=resident,
        device_id=device,
        dedupe_key=key,
        detail={},
        at=at,
    )
    await db.bus.commit(session)
    return alert, created


async def _audit(session, alert_id: int) -> list[AlertEvent]:  # type: ignore[no-untyped-def]
    return list(
        (
            await session.scalars(
                select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
            )
        ).all()
    )


async def test_open_ack_resolve_each_audited(db: Db) -> None:
    async with db.factory() as session:
        alert, created = await _raise(db, session)
        assert created and alert.state == "open" and (alert.floor, alert.wing) == ("1", "A")
        assert await service.acknowledge(
            session,
            db.bus,
            alert,
            actor="nurse",
            source="api",
            note="on my way",
            at=T0 + 30,
            origin="10.0.0.7",
        )
        await db.bus.commit(session)
        assert not await service.acknowledge(session, db.bus, alert, actor="nurse", source="api")
        assert await service.resolve(
            session,
            db.bus,
            alert,
            actor="nurse",
            source="api",
            outcome="assisted",
            note="helped to the bathroom",
            at=T0 + 300,
        )
        await db.bus.commit(session)
        with pytest.raises(service.AlertStateError):
            await service.acknowledge(session, db.bus, alert, actor="nurse", source="api")
        trail = await _audit(session, alert.id)
        assert [(e.action, e.actor, e.source) for e in trail] == [
            ("raised", "system", "device"),
            ("acknowledged", "nurse", "api"),
            ("resolved", "nurse", "api"),
        ]
        assert (
            trail[1].at == T0 + 30
            and trail[1].note == "on my way"
            and trail[1].data == {"where": "10.0.0.7"}
        )
        assert trail[2].data["outcome"] == "assisted" and trail[2].note == "helped to the bathroom"
        assert (alert.state, alert.acknowledged_at, alert.resolved_at) == (
            "resolved",
            T0 + 30,
            T0 + 300,
        )
        assert alert.next_escalation_at is None and alert.next_reminder_at is None
        events = (await session.scalars(select(EventLog).order_by(EventLog.seq))).all()
        assert [e.type for e in events] == ["alert.raised", "alert.updated", "alert.updated"]
        assert [e.data["state"] for e in events] == ["open", "acknowledged", "resolved"]
        assert all(e.floor == "1" and e.wing == "A" for e in events)


async def test_one_alert_per_situation(db: Db) -> None:
    async with db.factory() as session:
        first, created = await _raise(db, session)
        again, created_again = await _raise(db, session, at=T0 + 5)
        assert created and not created_again and again.id == first.id and again.count == 2
        await service.resolve(session, db.bus, first, actor="nurse", source="api")
        await db.bus.commit(session)
        later, created_later = await _raise(db, session, at=T0 + 60)
        assert created_later and later.id != first.id
        assert len((await session.scalars(select(Alert))).all()) == 2


async def test_resolve_active_closes_by_dedupe_key(db: Db) -> None:
    async with db.factory() as session:
        alert, _ = await _raise(
            db,
            session,
            type="device_offline",
            severity="medium",
            key="device_offline:t-radar-1",
            device="t-radar-1",
        )
        closed = await service.resolve_active(
            session,
            db.bus,
            dedupe_key="device_offline:t-radar-1",
            outcome="device_returned",
            actor="system",
        )
        await db.bus.commit(session)
        assert closed is not None and closed.id == alert.id and closed.outcome == "device_returned"
        assert (
            await service.resolve_active(
                session,
                db.bus,
                dedupe_key="device_offline:t-radar-1",
                outcome="device_returned",
                actor="system",
            )
            is None
        )


async def test_fall_answers_decide_the_outcome(db: Db) -> None:
    async with db.factory() as session:
        fall, _ = await _raise(
            db, session, type="fall", severity="critical", key="fall:R-1", device="t-radar-1"
        )
        answers = {"on_floor": True, "was_resident": True, "unintentional": False}
        await service.resolve(session, db.bus, fall, actor="nurse", source="api", answers=answers)
        await db.bus.commit(session)
        assert fall.outcome == "false_alarm" and fall.detail["answers"] == answers
        real, _ = await _raise(
            db,
            session,
            type="fall",
            severity="critical",
            key="fall:R-2",
            resident="R-2",
            device="t-radar-2",
        )
        await service.resolve(
            session,
            db.bus,
            real,
            actor="nurse",
            source="api",
            answers={"on_floor": True, "was_resident": True, "unintentional": True},
        )
        assert real.outcome == "real_fall"


async def test_assign_and_comment_are_audited(db: Db) -> None:
    async with db.factory() as session:
        alert, _ = await _raise(db, session)
        nurse_b = await user_id(session, "nurse_b")
        await service.assign(session, db.bus, alert, user_id=nurse_b, actor="charge", at=T0 + 10)
        await service.comment(
            session, db.bus, alert, actor="nurse_b", text="resident asked for water"
        )
        await db.bus.commit(session)
        other_facility = await user_id(session, "nurse2")
        with pytest.raises(service.AlertStateError):
            await service.assign(session, db.bus, alert, user_id=other_facility, actor="charge")
        trail = await _audit(session, alert.id)
        assert [e.action for e in trail] == ["raised", "assigned", "comment"]
        assert trail[1].data["username"] == "nurse_b" and trail[1].actor == "charge"
        assert alert.assigned_to == nurse_b
        types = [
            e.type for e in (await session.scalars(select(EventLog).order_by(EventLog.seq))).all()
        ]
        assert types == ["alert.raised", "alert.updated", "alert.comment"]


async def test_facility_overrides_severity_by_type_and_shift(db: Db) -> None:
    async with db.factory() as session:
        facility = await session.get(Facility, 1)
        assert facility is not None
        facility.timezone = "UTC"
        facility.settings = {
            "alerts": {
                "severity": {"bed_exit": "low", "fall": "low"},
                "severity_by_shift": {"night": {"bed_exit": "critical"}},
            },
        }
        await session.commit()
        day, _ = await _raise(db, session, type="bed_exit", severity="high", key="bed:1", at=T0)
        night, _ = await _raise(
            db, session, type="bed_exit", severity="high", key="bed:2", at=T0 + 11 * 3600
        )  # 23:00 UTC
        fall, _ = await _raise(db, session, type="fall", severity="critical", key="fall:1")
        assert (day.severity, night.severity, fall.severity) == ("low", "critical", "critical")


async def test_snooze_is_bounded_audited_and_only_for_nuisance_alerts(db: Db) -> None:
    defaults = {"critical": 60.0, "high": 120.0, "medium": 600.0}
    async with db.factory() as session:
        offline, _ = await _raise(
            db,
            session,
            type="device_offline",
            severity="medium",
            key="device_offline:x",
            device="t-radar-1",
        )
        with pytest.raises(service.AlertStateError):
            await service.snooze(
                session,
                db.bus,
                offline,
                seconds=MAX_SNOOZE_S + 1,
                actor="nurse",
                timeout_defaults=defaults,
                at=T0,
            )
        await service.snooze(
            session,
            db.bus,
            offline,
            seconds=900,
            actor="nurse",
            note="known outage",
            timeout_defaults=defaults,
            at=T0,
        )
        await db.bus.commit(session)
        assert offline.snoozed_until == T0 + 900 and offline.next_reminder_at == T0 + 900
        assert offline.next_escalation_at == T0 + 900 + 600
        trail = await _audit(session, offline.id)
        assert trail[-1].action == "snoozed" and trail[-1].data["seconds"] == 900
        call, _ = await _raise(db, session)
        with pytest.raises(service.AlertStateError):
            await service.snooze(
                session, db.bus, call, seconds=60, actor="nurse", timeout_defaults=defaults
            )


async def test_a_later_fall_detection_says_what_it_saw_not_what_the_first_did(db: Db) -> None:
    """One fall alert stays open per radar; a later confirmation updates it. What that update
    says was seen is the later detection's: a descent it did not see is null, not the first
    detection's descent kept from before."""
    device = DeviceInfo("t-radar-1", "radar", 1, None, "R-1", 0)

    def fall(at: float, descent_s: float, pre_m: float) -> FallFound:
        return FallFound(
            "t-radar-1",
            "confirmed",
            at,
            at - 5,
            pre_m,
            0.3,
            2.0,
            2.0,
            None,
            descent_s,
            1.5,
            5.0,
            0.9,
        )

    async with db.factory() as session:
        await handle_detection(session, db.bus, device, fall(T0, 0.8, 1.0))
        await handle_detection(session, db.bus, device, fall(T0 + 10, float("nan"), float("nan")))
        await db.bus.commit(session)
        (alert,) = (await session.scalars(select(Alert).where(Alert.type == "fall"))).all()
    assert alert.detail["detected_ts"] == T0 + 10
    assert alert.detail["descent_s"] is None and alert.detail["drop_m"] is None
    assert alert.detail["down_s"] == 5.0 and alert.detail["score"] == 0.9
