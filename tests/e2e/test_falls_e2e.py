"""A simulated fall replayed through a real broker raises a `fall` alert on the caregiver's screen;
lying down on the bed does not; the trail records zone visits."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from devices.radar.worker import partition
from simulators import radar_motion as rm
from tests.conftest import Backend, HubServer, demo_seed, prepare_database
from tests.e2e.test_calls import WsReader, alerts
from tests.support.mqtt import close_client, connect_client, publish_and_wait, wait_for

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres]


def episode_seed(prefix: str, residents: int = 2) -> dict:  # type: ignore[type-arg]
    seed = demo_seed(prefix, residents=residents)
    zones = [
        {
            "name": "bed",
            "x0": rm.BED_RECT[0],
            "y0": rm.BED_RECT[1],
            "x1": rm.BED_RECT[2],
            "y1": rm.BED_RECT[3],
        },
        {
            "name": "chair",
            "x0": rm.CHAIR_RECT[0],
            "y0": rm.CHAIR_RECT[1],
            "x1": rm.CHAIR_RECT[2],
            "y1": rm.CHAIR_RECT[3],
        },
        {
            "name": "bathroom",
            "x0": rm.BATHROOM_RECT[0],
            "y0": rm.BATHROOM_RECT[1],
            "x1": rm.BATHROOM_RECT[2],
            "y1": rm.BATHROOM_RECT[3],
        },
    ]
    for d in seed["devices"]:
        if d["type"] == "radar":
            d["zones"] = zones
    return seed


def replay(
    server: HubServer, prefix: str, kind: str, seed: int, radar: str = "radar-1", seq0: int = 1
) -> rm.Episode:
    """Publish an episode's windows as fast as the broker takes them (device time is what counts)."""
    rng = np.random.default_rng(seed)
    ep = rm.make_episode(kind, "clean", rng, t0_s=time.time() - 60)
    client = connect_client(server.mqtt_url, f"{prefix}{radar}-pub")
    device = f"{prefix}{radar}"
    for ev in rm.to_events(ep.rows, device, seq0=seq0):
        client.publish(f"care/v1/{device}/radar/frames", orjson.dumps(rm.to_payload(ev)), qos=0)
    publish_and_wait(
        client,
        f"care/v1/{device}/status",
        orjson.dumps({"ts": time.time(), "seq": 1, "state": "online"}),
    )
    close_client(client)
    return ep


@pytest.fixture
def episode_hub(backend: Backend, prefix: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    prepare_database(backend, episode_seed(prefix))
    server = HubServer(backend).start()
    yield server
    server.stop()


def test_replayed_fall_raises_a_critical_fall_alert(episode_hub: HubServer, prefix: str) -> None:
    nurse = episode_hub.token("nurse")
    screen = WsReader(episode_hub, nurse)
    ep = replay(episode_hub, prefix, "fall_forward", seed=11)
    assert ep.is_fall
    event = screen.next_of("alert.raised", timeout=20)
    while event["data"]["type"] != "fall":
        event = screen.next_of("alert.raised", timeout=20)
    fall = event["data"]
    assert fall["severity"] == "critical" and fall["priority"] == "high"
    assert fall["device_id"] == f"{prefix}radar-1" and fall["resident_id"] == "R-1"
    assert fall["detail"]["kind"] == "confirmed"
    assert ep.impact_s is not None and abs(fall["detail"]["impact_ts"] - ep.impact_s) < 3.0
    screen.close()


def test_lying_down_on_the_bed_is_not_a_fall_and_the_trail_shows_it(
    episode_hub: HubServer, prefix: str
) -> None:
    nurse = episode_hub.token("nurse")
    ep = replay(episode_hub, prefix, "lie_on_bed", seed=12)
    assert not ep.is_fall
    with episode_hub.client(nurse) as c:

        def trail() -> dict:  # type: ignore[type-arg]
            return c.get("/api/residents/R-1/trail", params={"from": ep.rows.t0_s - 10}).json()  # type: ignore[no-any-return]

        assert wait_for(lambda: any(v["zone"] == "room" for v in trail()["visits"]), timeout=15), (
            trail()
        )
        time.sleep(1.0)
        assert [a for a in alerts(episode_hub, nurse) if a["type"] == "fall"] == []
        visits = trail()["visits"]
        assert all(v["entered_at"] <= (v["left_at"] or 1e12) for v in visits)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_radar_worker_process_detects_the_fall_and_reports_liveness(
    backend: Backend, prefix: str
) -> None:
    """Large communities run the radar streams in a worker process; the result must be the same."""
    backend.settings.radar_workers = 1
    prepare_database(backend, episode_seed(prefix))
    server = HubServer(backend).start()
    try:
        assert server.hub.radar_worker is not None and server.hub.radar_worker.is_alive()
        screen = WsReader(server, server.token("nurse"))
        client = connect_client(server.mqtt_url, f"{prefix}junk")
        publish_and_wait(
            client,
            f"care/v1/{prefix}btn-1/radar/frames",  # a button posing as a radar
            orjson.dumps({"ts": time.time(), "seq": 1, "fps": 10, "frames": [{"targets": []}]}),
        )
        close_client(client)
        replay(server, prefix, "fall_backward", seed=21)
        event = screen.next_of("alert.raised", timeout=30)
        while event["data"]["type"] != "fall":
            event = screen.next_of("alert.raised", timeout=30)
        assert event["data"]["severity"] == "critical"
        assert event["data"]["device_id"] == f"{prefix}radar-1"
        metrics = server.hub.pipeline.metrics
        assert metrics.rejected["wrong_device_type"] == 1
        slot = server.hub.registry.get(f"{prefix}radar-1").slot
        assert server.hub.pipeline.supervisor.liveness.online[slot]
        screen.close()
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_two_radar_workers_each_detect_falls_of_their_own_radars(
    backend: Backend, prefix: str
) -> None:
    """With two workers each radar belongs to one (by a hash of its id): falls on radars of both
    workers are raised, and worker 0 still dead-letters radar topics of non-radars."""
    backend.settings.radar_workers = 2
    prepare_database(backend, episode_seed(prefix, residents=12))  # both workers own some
    radars = [f"radar-{n}" for n in range(1, 13)]
    owner = {r: partition(f"{prefix}{r}", 2) for r in radars}
    picks = [next(r for r in radars if owner[r] == k) for k in (0, 1)]
    server = HubServer(backend).start()
    try:
        group = server.hub.radar_worker
        assert group is not None and len(group.workers) == 2 and group.is_alive()
        screen = WsReader(server, server.token("nurse"))
        client = connect_client(server.mqtt_url, f"{prefix}junk")
        publish_and_wait(
            client,
            f"care/v1/{prefix}btn-1/radar/frames",  # a button posing as a radar
            orjson.dumps({"ts": time.time(), "seq": 1, "fps": 10, "frames": [{"targets": []}]}),
        )
        close_client(client)
        for i, radar in enumerate(picks):
            replay(server, prefix, "fall_forward", seed=31 + i, radar=radar)
        falls: set[str] = set()
        while len(falls) < 2:
            event = screen.next_of("alert.raised", timeout=30)
            if event["data"]["type"] == "fall":
                falls.add(event["data"]["device_id"])
        assert falls == {f"{prefix}{r}" for r in picks}
        assert wait_for(lambda: server.hub.pipeline.metrics.rejected["wrong_device_type"] == 1)

        # a radar provisioned while running, owned by worker 1: it subscribes to its topics
        new = next(f"radar-{n}" for n in range(100, 200) if partition(f"{prefix}radar-{n}", 2))
        with server.client(server.token("admin")) as c:
            body = {"id": f"{prefix}{new}", "type": "radar", "facility_id": 1, "resident_id": "R-3"}
            assert c.post("/api/devices", json=body).status_code == 201
        accepted = server.hub.pipeline.metrics.accepted  # nothing else publishes now
        probe = connect_client(server.mqtt_url, f"{prefix}probe")
        seq = 0

        def heard() -> bool:
            nonlocal seq
            seq += 1
            window = {"ts": time.time() - 120, "seq": seq, "fps": 10, "frames": [{"targets": []}]}
            client_topic = f"care/v1/{prefix}{new}/radar/frames"
            probe.publish(client_topic, orjson.dumps(window), qos=0)
            return server.hub.pipeline.metrics.accepted > accepted  # worker 1 subscribed

        assert wait_for(heard, timeout=15)
        close_client(probe)
        replay(server, prefix, "fall_forward", seed=41, radar=new, seq0=seq + 1)
        event = screen.next_of("alert.raised", timeout=30)
        while event["data"]["type"] != "fall":
            event = screen.next_of("alert.raised", timeout=30)
        assert event["data"]["device_id"] == f"{prefix}{new}"
        screen.close()
    finally:
        server.stop()
