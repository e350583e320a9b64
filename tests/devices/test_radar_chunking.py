"""The radar processor decides fall episodes alike however their windows are grouped into calls.

A hub batches whatever arrived: one call may hold several consecutive windows of one radar, another
only some radars, another nothing; a radar worker decodes windows with a decoder of its own
(``devices.radar.frames_batch``). None of that may change a fall decision or what it reports.
CI once saw the same episodes confirmed with a judge's score of 0.92 in the hub and 0.90 offline,
and 0.69 against 0.31 through a worker: the detector stepped a call's windows of one radar
together (its clock jumped ahead, so a candidate was judged on bins lockstep had not yet seen and
held repeats were remembered longer), and tracks of one radar were merged by the latest bin time
of any radar in the step. Here tuning-family episodes (the e2e test's kinds and trackers) go
through lockstep calls (one window of every radar per call, as bench.falls_e2e.offline_contract)
and through seeded random groupings, by the device contract's decoder and by the worker's, at
two phases of device time against the detector's bins; every fall detection must be the same,
to the last bit (time, impact, descent, drop, time down, score and the judge's features).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from bench.falls_e2e import Radar, make_radars, select_episodes
from care_hub.kernel.detections import FallFound
from devices.contract import decode
from devices.events import RadarFramesEvent
from devices.radar.frames_batch import decode_frames_many
from devices.radar.processor import RadarConfig, RadarProcessor

FAMILY = "T1_average"  # a tuning family
TRACKERS = ("multi_clean", "single_hold")
FALLS = ("trip", "fall_beside_bed", "slide_off_sofa")
CONFOUNDERS = ("all_fours", "on_heels")

Call = list[tuple[int, int]]  # (radar, window) in the order they are handed over


@pytest.fixture(scope="module")
def episodes() -> list[Radar]:
    eps = select_episodes(
        [FAMILY],
        TRACKERS,
        FALLS,
        CONFOUNDERS,
        2 * len(FALLS) * len(TRACKERS),
        len(CONFOUNDERS) * len(TRACKERS),
        1,
    )
    return make_radars(eps, "chunk-")


def _processor(radars: Sequence[Radar]) -> RadarProcessor:
    proc = RadarProcessor(64, confirm_s=5.0, floor_dwell_s=60.0)  # the hub's defaults
    proc.configure_many(
        [
            RadarConfig(r.device, f"R-{i}", zone_map=r.ep.room.zone_map())
            for i, r in enumerate(radars)
        ]
    )
    return proc


def _falls(
    radars: Sequence[Radar], calls: Sequence[Call], worker: bool
) -> list[tuple[object, ...]]:
    proc = _processor(radars)
    out: list[tuple[object, ...]] = []
    for call in calls:
        if worker:  # devices/radar/worker.py: its own decoder, straight to a FallBatch
            cols = decode_frames_many([(radars[i].topic, radars[i].payloads[w]) for i, w in call])
            assert not cols.errors
            found = proc.process_frames_batch(cols.fall_batch(cols.slots_for(proc.slot_of)))
        else:  # the hub's pipeline: the device contract's decode, then process()
            frames = [decode(radars[i].topic, radars[i].payloads[w]) for i, w in call]
            assert all(isinstance(ev, RadarFramesEvent) for ev in frames)
            found = proc.process(frames, [])  # type: ignore[arg-type]
        for d in found:
            if isinstance(d, FallFound):
                rounded = tuple(
                    None if v != v else round(v, 2)
                    for v in (d.descent_s, d.pre_height_m - d.floor_height_m, d.down_s, d.score)
                )
                exact = tuple(
                    None if v != v else v
                    for v in (d.at_s, d.impact_s, d.pre_height_m, d.floor_height_m, d.x_m, d.y_m)
                )
                features = tuple((k, None if v != v else v) for k, v in d.features)  # NaN: None
                out.append((d.device_id, d.kind, rounded, exact, features))
    return sorted(out, key=repr)


def _lockstep(radars: Sequence[Radar]) -> list[Call]:
    n = max(len(r.payloads) for r in radars)
    return [[(i, w) for i, r in enumerate(radars) if w < len(r.payloads)] for w in range(n)]


def _grouped(radars: Sequence[Radar], seed: int) -> list[Call]:
    """Random calls: each radar's next 0-6 windows (consecutive, in order), radars in random
    order, sometimes nothing at all; now and then a call's windows are all shuffled."""
    rng = random.Random(seed)
    nxt = [0] * len(radars)
    calls: list[Call] = []
    while any(nxt[i] < len(r.payloads) for i, r in enumerate(radars)):
        call: Call = []
        for i in rng.sample(range(len(radars)), len(radars)):
            for _ in range(rng.choice((0, 0, 1, 1, 1, 2, 3, 6))):
                if nxt[i] < len(radars[i].payloads):
                    call.append((i, nxt[i]))
                    nxt[i] += 1
        if rng.random() < 0.1:
            rng.shuffle(call)
        calls.append(call)
    return calls


@pytest.mark.parametrize("phase", [0.0, 0.37])
def test_fall_detections_do_not_depend_on_grouping_or_decoder(
    episodes: list[Radar], phase: float
) -> None:
    radars = episodes
    for r in radars:
        r.stamp(1_764_850_000.0 + phase)
    reference = _falls(radars, _lockstep(radars), worker=False)
    assert any(d[1] == "confirmed" for d in reference)  # something to compare
    assert any(d[1] == "cancelled" for d in reference)
    assert _falls(radars, _lockstep(radars), worker=True) == reference
    for seed in range(4):
        calls = _grouped(radars, seed)
        assert any(len({i for i, _ in c}) < len(c) for c in calls)  # several windows of a radar
        assert _falls(radars, calls, worker=False) == reference, seed
        assert _falls(radars, calls, worker=True) == reference, seed


def test_one_radar_at_a_time_decides_as_all_together(episodes: list[Radar]) -> None:
    """Radars never share anything: each radar's windows alone, one call each, decide as all
    radars in lockstep do (a step's other radars cannot move one radar's tracks)."""
    radars = episodes
    for r in radars:
        r.stamp(1_764_850_000.25)
    reference = _falls(radars, _lockstep(radars), worker=False)
    alone = [[(i, w)] for i, r in enumerate(radars) for w in range(len(r.payloads))]
    assert _falls(radars, alone, worker=False) == reference
    whole = [[(i, w) for i, r in enumerate(radars) for w in range(len(r.payloads))]]
    assert _falls(radars, whole, worker=True) == reference
