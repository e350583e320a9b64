"""A storm of calls is stored a transaction of at most HEAVY_PER_TRANSACTION alert events at a time."""

from __future__ import annotations

import numpy as np

from care_hub.ingest.pipeline import split
from devices.events import ButtonEvent, Envelope, RadarFramesEvent
from devices.registry import DeviceInfo

DEVICE = DeviceInfo("b", "button", 1, None, None, 0)


def press(i: int) -> ButtonEvent:
    return ButtonEvent(Envelope(f"b{i}", "button", 0.0, i), "call")


def frames(i: int) -> RadarFramesEvent:
    empty = np.zeros(0)
    return RadarFramesEvent(
        Envelope(f"r{i}", "radar/frames", 0.0, i),
        10.0,
        10,
        empty.astype(np.int32),
        empty.astype(np.int64),
        empty,
        empty,
        empty,
        empty,
        empty,
        empty,
    )


def test_runs_hold_at_most_n_alert_events_and_keep_order_and_origins() -> None:
    events = [press(i) if i % 3 else frames(i) for i in range(300)]
    accepted = [(ev, 0.0, DEVICE) for ev in events]
    origin = list(range(1000, 1300))
    runs = split(accepted, origin, 50)
    assert [e for run, _ in runs for e in run] == accepted
    assert [o for _, run in runs for o in run] == origin
    heavy = [sum(isinstance(e[0], ButtonEvent) for e in run) for run, _ in runs]
    assert max(heavy) == 50 and sum(heavy) == 200 and len(runs) == 4


def test_a_quiet_batch_is_one_run() -> None:
    accepted = [(frames(i), 0.0, DEVICE) for i in range(5000)]
    assert len(split(accepted, list(range(5000)), 50)) == 1
    assert split([], [], 50) == [([], [])]
