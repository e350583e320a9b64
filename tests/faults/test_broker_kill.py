"""Broker SIGKILL mid-stream and restart with the recommended persistence: every press the broker
acknowledged to its device is stored once. Mosquitto acknowledges before it saves, so a press
can die with the broker; the hub's receipt is what tells the button, which re-sends it."""

from __future__ import annotations

import os
import signal
import threading
import time

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
KILL_AFTER = 100
PUBLISH_GAP_S = 0.005


def test_broker_kill_mid_stream_loses_no_acknowledged_call_and_doubles_none(
    start_hub: StartHub, broker: MosquittoProcess
) -> None:
    hub = start_hub()
    admin = hub.token("admin", PASSWORD)
    devices = PressPublisher(broker.url, "fault-devices-broker-kill")
    try:
        kill_now = threading.Event()

        def stream() -> None:
            for _ in range(PRESSES_PER_BUTTON):
                for n in range(1, N_BUTTONS + 1):
                    devices.press(button_id(n))  # paho keeps it while the broker is down
                    if len(devices.presses) == KILL_AFTER:
                        kill_now.set()
                    time.sleep(PUBLISH_GAP_S)

        publisher = threading.Thread(target=stream)
        publisher.start()
        assert kill_now.wait(60)
        acked_at_kill = devices.acked()
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGKILL)  # no shutdown save: only what autosave wrote
        killed_at = time.time()
        broker.stop()  # reaps the killed process
        broker.start()  # same port, same persistence file
        publisher.join(60)
        assert not publisher.is_alive()
        assert devices.wait_all_acked(timeout=60), "the restarted broker did not take every press"
        # a press the broker acknowledged and lost with the kill gets no receipt from the hub:
        # the button re-sends it (same seq), as a button does (docs/device-contract.md, receipts)
        assert devices.wait_all_received(timeout=90), f"unconfirmed: {devices.unreceived()}"
        with hub.client(admin) as c:
            assert wait_for(lambda: hub.health()[1]["mqtt_connected"], timeout=60)
            assert fence(devices, c, timeout=90), f"fence never stored; log:\n{hub.log_tail()}"
            caught_up_s = time.time() - killed_at
            result = tally(c, devices.expected())
            stored = stored_calls(c)
        record_figures(
            "test_broker_kill",
            {
                **result.as_dict(),
                "acked_by_broker_at_kill": acked_at_kill,
                "resent_for_want_of_a_receipt": devices.resent(),
                "all_stored_after_kill_s": round(caught_up_s, 2),
                "broker_persistence": broker.extra_config.splitlines()[2:],
            },
        )
        assert stored == result.stored
        assert result.lost == 0 and result.doubled == 0 and not result.problems, result.problems
    finally:
        devices.close()
