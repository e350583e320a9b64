"""PostgreSQL cut off from the hub for 30 s: the hub acknowledges to the broker only what it
stored (presses made during the cut arrive after it, exactly once, also when the hub is killed
during the cut), and /api/health answers 503 while it cannot store and 200 after."""

from __future__ import annotations

import time

import pytest

from devices.broker import MosquittoProcess
from tests.faults.conftest import StartHub
from tests.support.mqtt import wait_for
from tests.support.presses import (
    PASSWORD,
    PressPublisher,
    button_id,
    fence,
    record_figures,
    tally,
)
from tests.support.processes import PG_HOST, PG_PORT, with_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.ws import EventStream

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres, pytest.mark.slow]

CUT_S = 30.0  # how long the database stays unreachable (issue 11)
STALL_S = 3.0  # CARE_HUB_INGEST_STALL_S: no progress this long while messages wait = 503
BEFORE, DURING, DURING_KILL = 20, 60, 20  # presses before the cut, during it, during the second
PUBLISH_GAP_S = 0.02


def _status(hub_health: tuple[int, dict]) -> int:  # type: ignore[type-arg]
    return hub_health[0]


def test_database_cut_acknowledges_nothing_unstored_and_health_reports_it(
    start_hub: StartHub, broker: MosquittoProcess, database_url: str
) -> None:
    with TcpProxy(PG_HOST, PG_PORT) as proxy:
        hub = start_hub(
            database_url=with_port(database_url, proxy.port),
            env={"CARE_HUB_INGEST_STALL_S": str(STALL_S)},
        )
        admin = hub.token("admin", PASSWORD)
        screen = EventStream(hub.ws_url, admin)
        devices = PressPublisher(broker.url, "fault-devices-db-cut")
        try:
            for n in range(1, BEFORE + 1):
                devices.press(button_id(n))
            with hub.client(admin) as c:
                assert fence(devices, c, timeout=60)
            assert _status(hub.health()) == 200

            # The cut: every connection to PostgreSQL reset, new ones refused.
            proxy.cut()
            cut_at = time.monotonic()
            for n in range(1, DURING + 1):
                devices.press(button_id(n))
                time.sleep(PUBLISH_GAP_S)
            assert devices.wait_all_acked(timeout=30)  # the broker holds them for the hub
            assert wait_for(lambda: _status(hub.health()) == 503, timeout=CUT_S - 5), (
                f"health never left 200 while nothing could be stored: {hub.health()}"
            )
            to_503_s = time.monotonic() - cut_at
            stalled_notice = wait_for(
                lambda: any(n["data"].get("state") == "stalled" for n in screen.notices),
                timeout=10,
            )
            # Deaf for the rest of the cut: health must say so every time it is asked.
            statuses = []
            while time.monotonic() - cut_at < CUT_S:
                statuses.append(hub.health())
                time.sleep(0.5)
            proxy.restore()
            restored_at = time.monotonic()
            assert wait_for(lambda: _status(hub.health()) == 200, timeout=60), hub.log_tail()
            to_200_s = time.monotonic() - restored_at
            with hub.client(admin) as c:
                assert fence(devices, c, timeout=60), hub.log_tail()
                stored_after_s = time.monotonic() - restored_at
                first = tally(c, devices.expected())
            ok_notice = wait_for(
                lambda: any(n["data"].get("state") == "ok" for n in screen.notices), timeout=10
            )

            # Second cut, and the hub killed while it holds presses it could not store: had it
            # acknowledged them to the broker, the restarted hub would never see them.
            proxy.cut()
            for n in range(1, DURING_KILL + 1):
                devices.press(button_id(n))
                time.sleep(PUBLISH_GAP_S)
            assert devices.wait_all_acked(timeout=30)
            assert wait_for(lambda: _status(hub.health()) == 503, timeout=CUT_S)
            hub.kill()
            proxy.restore()
            hub.start()
            with hub.client(admin) as c:
                assert fence(devices, c, timeout=60), hub.log_tail()
                final = tally(c, devices.expected())
        finally:
            devices.close()
            screen.close()
    said_ok = [body for code, body in statuses if code != 503]
    record_figures(
        "test_database_cut",
        {
            **final.as_dict(),
            "cut_s": CUT_S,
            "health_503_after_cut_s": round(to_503_s, 2),
            "health_polls_during_cut": len(statuses),
            "health_not_503_during_cut": len(said_ok),
            "health_200_after_restore_s": round(to_200_s, 2),
            "all_stored_after_restore_s": round(stored_after_s, 2),
            "first_cut": first.as_dict(),
        },
    )
    assert not said_ok, f"health said ok while the database was cut: {said_ok[:3]}"
    assert stalled_notice, f"no system.health 'stalled' notice: {screen.notices}"
    assert ok_notice, f"no system.health 'ok' notice after the cut: {screen.notices}"
    assert first.lost == 0 and first.doubled == 0 and not first.problems, first.problems
    assert final.lost == 0 and final.doubled == 0 and not final.problems, final.problems
