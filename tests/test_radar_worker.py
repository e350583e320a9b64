"""The hub's view of the radar worker's progress decides whether radar silence can be judged."""

from __future__ import annotations

from devices.radar.processor import RadarConfig
from devices.radar.worker import (
    WORKER_BEHIND_S,
    WORKER_LAG_VALID_S,
    WORKER_STUCK_S,
    RadarWorkerGroup,
    WorkerProgress,
    partition,
)


def test_a_worker_keeping_up_is_not_behind() -> None:
    p = WorkerProgress()
    assert not p.behind(100.0)
    p.started(0.05, at=100.0)
    p.finished()
    assert not p.behind(100.1)


def test_queueing_delay_over_a_second_means_behind_until_a_newer_notice_or_it_expires() -> None:
    p = WorkerProgress()
    p.started(WORKER_BEHIND_S + 2.0, at=100.0)
    p.finished()
    assert p.behind(100.5)
    assert not p.behind(100.0 + WORKER_LAG_VALID_S + 0.1)  # idle since: no newer notice
    p.started(0.1, at=101.0)  # caught up
    p.finished()
    assert not p.behind(101.1)


def test_a_long_batch_means_behind_and_a_stuck_worker_does_not_hide_silence() -> None:
    p = WorkerProgress()
    p.started(0.0, at=100.0)
    assert not p.behind(100.0 + WORKER_BEHIND_S / 2)
    assert p.behind(100.0 + WORKER_BEHIND_S + 0.5)
    # a batch that never ends is a stuck worker: radars must be judged (and reported) silent
    assert not p.behind(100.0 + WORKER_STUCK_S + 1.0)


def test_a_group_routes_configuration_and_cancels_to_the_owner() -> None:
    sent: list[tuple[int, tuple[object, ...]]] = []
    group = RadarWorkerGroup(
        3,
        mqtt_url="mqtt://127.0.0.1:1",
        client_id="t",
        username=None,
        password=None,
        on_report=lambda r: None,
    )
    for k, w in enumerate(group.workers):
        w.send = lambda *msg, k=k: sent.append((k, msg))  # type: ignore[method-assign]
    cfg = RadarConfig("radar-7", "R-7")
    owner = partition("radar-7", 3)
    group.send("config", cfg)
    assert (owner, ("config", cfg)) in sent
    assert {k for k, m in sent if m[0] == "type"} == {0, 1, 2} - {owner}
    sent.clear()
    group.send("cancel", "radar-7", 12.0)
    assert sent == [(owner, ("cancel", "radar-7", 12.0))]
    assert {partition(f"radar-{n}", 3) for n in range(50)} == {0, 1, 2}
