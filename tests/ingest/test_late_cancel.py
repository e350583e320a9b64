"""A resident's cancel pressed before a fall's confirmation ended closes the fall alert even when
the press reaches the detector after the confirmation: here both arrive in one batch (the radar
step runs before the button is routed, so the confirmation comes first), the race a loaded hub
meets whenever a press lands in the last batch of the confirmation time."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from sqlalchemy import select

from alerts.models import Alert
from care_hub import migrate
from devices.events import RadarFramesEvent
from devices.mqtt_client import RawMessage
from devices.radar.processor import RadarConfig, RadarProcessor
from simulators import radar_motion as rm
from tests.ingest.pipeline_support import seeded_pipeline


class _Acks:
    """The pipeline's outlet (acknowledgements, commands to devices), recorded: this test is about
    the order of steps inside one batch, not the transport."""

    def __init__(self) -> None:
        self.acked = 0
        self.published: list[str] = []

    def ack(self, messages: list[RawMessage]) -> None:
        self.acked += len(messages)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self.published.append(topic)


def _fall() -> tuple[list[RadarFramesEvent], float]:
    """A clean forward fall's windows and the device time its confirmation comes at."""
    ep = rm.make_episode("fall_forward", "clean", np.random.default_rng(5), t0_s=time.time() - 60)
    windows = rm.to_events(ep.rows, "r1", seq0=1)
    proc = RadarProcessor(8, confirm_s=5.0)
    proc.configure(RadarConfig("r1", "R-1"))
    at = [
        d.at_s
        for w in windows
        for d in proc.process([w], [])
        if getattr(d, "kind", "") == "confirmed"
    ]
    assert len(at) == 1
    return windows, at[0]


@pytest.mark.parametrize("press_before_s, closed", [(1.0, True), (-2.0, False)])
def test_a_cancel_in_time_closes_the_fall_alert_even_if_applied_after_the_confirmation(
    tmp_path: Path, press_before_s: float, closed: bool
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    migrate.upgrade(url)
    windows, confirmed_at = _fall()
    press_at = confirmed_at - press_before_s

    def frames(w: RadarFramesEvent, i: int) -> RawMessage:
        payload = orjson.dumps(rm.to_payload(w))
        return RawMessage("care/v1/r1/radar/frames", payload, 0, i, w.env.ts + 1.0)

    async def go() -> list[Alert]:
        async with seeded_pipeline(url, _Acks(), fall_confirm_s=5.0) as (pipeline, factory):
            # the windows before the confirming one, one batch each
            last = next(i for i, w in enumerate(windows) if w.env.ts + 1.0 >= confirmed_at)
            for i, w in enumerate(windows[:last]):
                await pipeline.process([frames(w, i)])
            press = orjson.dumps({"ts": press_at, "seq": 1, "action": "cancel"})
            batch = [
                frames(windows[last], last),
                RawMessage("care/v1/b1/button", press, 1, 999, press_at),
            ]
            await pipeline.process(batch)  # confirms, then meets the press
            await pipeline.process([])  # the late cancel rides with the next batch
            async with factory() as session:
                return list(
                    (await session.scalars(select(Alert).where(Alert.type == "fall"))).all()
                )

    (alert,) = asyncio.run(go())
    assert alert.detail["kind"] == "confirmed"
    if closed:
        assert (alert.state, alert.outcome) == ("resolved", "cancelled")
    else:
        assert alert.state == "open"
