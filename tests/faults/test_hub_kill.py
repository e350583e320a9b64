"""Hub SIGKILL mid-stream: no call lost, none doubled; an escalation deadline persisted before the
kill is kept by the restarted hub (it escalates once, at that deadline)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from devices.broker import MosquittoProcess
from tests.faults.conftest import N_BUTTONS, StartHub
from tests.support.mqtt import wait_for
from tests.support.presses import (
    PASSWORD,
    PressPublisher,
    button_id,
    fence,
    record_figures,
    stored_calls,
    tally,
)

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres, pytest.mark.slow]

PRESSES_PER_BUTTON = 5  # 60 buttons x 5 = 300 presses
KILL_AFTER = 100  # presses published before the hub is killed
# Calls are `high`: they escalate this long after being raised unless acknowledged. Long enough
# that the deadline falls after the kill and restart, short enough for the suite's budget.
ACK_TIMEOUT_HIGH_S = 20.0
PUBLISH_GAP_S = 0.005  # ~200 presses/s from the fleet: a stream, not one burst


def _escalating_call(client: httpx.Client) -> dict[str, Any] | None:
    r = client.get("/api/alerts", params={"type": "call", "resident_id": "F2-1"})
    r.raise_for_status()
    return r.json()[0] if r.json() else None


def test_hub_kill_mid_stream_loses_no_call_doubles_none_and_keeps_the_escalation_deadline(
    start_hub: StartHub, broker: MosquittoProcess
) -> None:
    hub = start_hub(env={"CARE_HUB_ALERTS__ACK_TIMEOUT_HIGH_S": str(ACK_TIMEOUT_HIGH_S)})
    admin = hub.token("admin", PASSWORD)
    devices = PressPublisher(broker.url, "fault-devices-hub-kill")
    try:
        # A call whose escalation deadline the engine has persisted before the kill.
        devices.press("f2-btn")
        with hub.client(admin) as c:
            assert wait_for(
                lambda: (
                    (a := _escalating_call(c)) is not None
                    and a["next_escalation_at"] != a["raised_at"]
                ),
                timeout=30,
            ), "the escalation engine never scheduled the call"
            escalating = _escalating_call(c)
        assert escalating is not None
        deadline = escalating["next_escalation_at"]
        assert deadline == pytest.approx(escalating["raised_at"] + ACK_TIMEOUT_HIGH_S)

        kill_now = threading.Event()

        def stream() -> None:
            for _ in range(PRESSES_PER_BUTTON):
                for n in range(1, N_BUTTONS + 1):
                    devices.press(button_id(n))
                    if len(devices.presses) == KILL_AFTER + 1:  # + the escalating call
                        kill_now.set()
                    time.sleep(PUBLISH_GAP_S)
            kill_now.set()

        publisher = threading.Thread(target=stream)
        publisher.start()
        assert kill_now.wait(60)
        with hub.client(admin) as c:
            stored_at_kill = stored_calls(c)
        killed_at = time.time()
        acked_at_kill = devices.acked()
        hub.kill()
        assert killed_at < deadline, "the deadline passed before the kill: nothing to resume"
        hub.start()  # same port, data dir and MQTT client id: the broker kept its session
        restarted_s = time.time() - killed_at
        publisher.join(60)
        assert not publisher.is_alive()
        assert devices.wait_all_acked(timeout=60), "the broker did not take every press"

        with hub.client(admin) as c:
            assert fence(devices, c, timeout=90), f"fence never stored; log:\n{hub.log_tail()}"
            caught_up_s = time.time() - killed_at
            result = tally(c, devices.expected())

            # The persisted deadline, not one counted from the restart.
            assert wait_for(
                lambda: (_escalating_call(c) or {}).get("escalation_level", 0) >= 1,
                timeout=max(0.0, deadline - time.time()) + 30,
            ), "the call persisted before the kill never escalated"
            history = c.get(f"/api/alerts/{escalating['id']}").json()["history"]
        escalations = [h for h in history if h["action"] == "escalated" and h["data"]["level"] == 1]
        record_figures(
            "test_hub_kill",
            {
                **result.as_dict(),
                "acked_by_broker_at_kill": acked_at_kill,
                "stored_shortly_before_kill": stored_at_kill,
                "hub_ready_after_kill_s": round(restarted_s, 2),
                "all_stored_after_kill_s": round(caught_up_s, 2),
                "escalation_late_s": round(escalations[0]["at"] - deadline, 2)
                if escalations
                else None,
            },
        )
        assert result.lost == 0 and result.doubled == 0 and not result.problems, result.problems
        assert len(escalations) == 1, history
        used = escalations[0]["at"] - escalations[0]["data"]["overdue_s"]
        assert used == pytest.approx(deadline, abs=0.01)  # the deadline persisted before the kill
        assert escalations[0]["at"] >= killed_at  # escalated by the restarted hub
    finally:
        devices.close()
