"""The radar processor that feeds the signal core: behaviour overrides, vitals storage rate, apnea."""

from __future__ import annotations

import numpy as np

from care_hub.kernel.detections import (
    ApneaFound,
    BehaviourFound,
    FallFound,
    VisitFound,
    VitalsFound,
)
from care_hub.signal_core.falls import EVERY_FRAME_LOOK_S
from devices.events import Envelope, RadarFramesEvent, RadarVitalsEvent
from devices.radar.processor import RadarConfig, RadarProcessor, resident_settings, support_rects

ZONES = {"bed": {"rect": [0.2, 3.0, 1.6, 4.9]}, "bathroom": {"rect": [2.6, 0.0, 4.0, 1.8]}}
T0 = 1_764_320_000.0


def window(
    device: str, ts: float, seq: int, x: float, y: float, z: float = 1.0
) -> RadarFramesEvent:
    n = 10
    f = np.full(n, np.nan)
    return RadarFramesEvent(
        Envelope(device, "radar/frames", ts, seq),
        10.0,
        n,
        np.arange(n, dtype=np.int32),
        np.ones(n, dtype=np.int64),
        np.full(n, x),
        np.full(n, y),
        np.full(n, z) + np.random.default_rng(seq).normal(0, 0.02, n),
        f,
        f,
        f,
    )


def vitals(
    device: str, ts: float, seq: int, breaths_per_min: float, amplitude_mm: float = 5.0
) -> RadarVitalsEvent:
    t = ts + np.arange(100) / 20.0
    x = amplitude_mm * np.sin(2 * np.pi * breaths_per_min / 60 * t) + np.random.default_rng(
        seq
    ).normal(0, 0.05, 100)
    return RadarVitalsEvent(Envelope(device, "radar/vitals", ts, seq), 1, 20.0, x)


def test_resident_overrides_change_the_behaviour_rules() -> None:
    default = resident_settings(RadarConfig("r", "R-1"))
    custom = resident_settings(
        RadarConfig("r", "R-1", behaviour={"bathroom_max_min": 2, "unknown_key": 1})
    )
    assert custom.bathroom_max_min == 2 and default.bathroom_max_min != 2

    proc = RadarProcessor(capacity=4)
    proc.configure(RadarConfig("r", "R-1", ZONES, behaviour={"bathroom_max_min": 2}))
    found = []
    for s in range(300):  # five minutes standing in the bathroom
        found += proc.process([window("r", T0 + s, s, 3.3, 0.9)], [])
    alerts = [d for d in found if isinstance(d, BehaviourFound)]
    assert [(a.kind, a.reason) for a in alerts] == [
        ("inactivity", "bathroom_long")
    ]  # once, not every 30 s


def test_radar_vitals_are_stored_once_a_minute_and_apnea_is_reported() -> None:
    proc = RadarProcessor(capacity=4)
    proc.configure(RadarConfig("r", "R-1", ZONES))
    found = []
    for k in range(36):  # 3 minutes of 5 s windows at 15 breaths/min
        found += proc.process([], [vitals("r", T0 + 5 * k, k, 15.0)])
    stored = [d for d in found if isinstance(d, VitalsFound)]
    assert 2 <= len(stored) <= 4
    assert all(abs(d.breathing_bpm - 15.0) < 1.5 for d in stored if d.breathing_bpm is not None)
    for k in range(36, 42):  # 30 s of flat chest: apnea
        flat = RadarVitalsEvent(
            Envelope("r", "radar/vitals", T0 + 5 * k, k),
            1,
            20.0,
            np.random.default_rng(k).normal(0, 0.05, 100),
        )
        found += proc.process([], [flat])
    apnea = [d for d in found if isinstance(d, ApneaFound)]
    assert apnea and apnea[0].phase == "onset" and apnea[0].duration_s >= 10


def test_a_facility_can_choose_its_own_fall_confirmation_time() -> None:
    from simulators import radar_motion as rm

    ep = rm.make_episode("fall_forward", "clean", np.random.default_rng(5), t0_s=T0)
    assert ep.impact_s is not None
    zones = {"bed": {"rect": list(rm.BED_RECT)}, "chair": {"rect": list(rm.CHAIR_RECT)}}
    confirmed = {}
    for confirm_s in (None, 20.0):
        proc = RadarProcessor(capacity=4)
        proc.configure(RadarConfig("r", "R-1", zones, confirm_s=confirm_s))
        found = []
        for ev in rm.to_events(ep.rows, "r"):
            found += proc.process([ev], [])
        falls = [d for d in found if isinstance(d, FallFound) and d.kind == "confirmed"]
        assert len(falls) == 1
        confirmed[confirm_s] = falls[0].at_s - falls[0].impact_s
    # the hub's default, then the facility's; a radar reporting every frame is judged
    # EVERY_FRAME_LOOK_S later than the cancel window
    assert abs(confirmed[None] - (5.0 + EVERY_FRAME_LOOK_S)) < 0.5
    assert abs(confirmed[20.0] - (20.0 + EVERY_FRAME_LOOK_S)) < 0.5


def test_support_rects_split_beds_from_chairs_and_sofas() -> None:
    beds, seats = support_rects(
        {
            "bed": {"rect": [1.2, 5.0, 0.2, 3.0]},
            "chair": {"polygon": [[3.6, 0.6], [4.4, 0.6], [4.0, 1.4]]},
            "sofa": {"rect": [0.0, 0.0, 2.0, 0.8]},
            "bathroom": {"rect": [3.8, 3.8, 5.0, 5.0]},
        }
    )
    assert beds == [(0.2, 3.0, 1.2, 5.0)]  # lying
    assert seats == [(3.6, 0.6, 4.4, 1.4), (0.0, 0.0, 2.0, 0.8)]  # sitting


def test_someone_on_the_floor_for_minutes_is_reported_when_floor_dwell_is_on() -> None:
    # a slow sit on the floor (kneel, pause, slow descent: no fall is recognised), then 3 minutes
    # there; the hub turns this on by default (settings.fall_floor_dwell_s = 120 s)
    heights = [1.0] * 5 + [0.8, 0.66, 0.66, 0.66, 0.6, 0.54, 0.48, 0.42] + [0.42] * 180
    kinds = {}
    for dwell_s in (0.0, 120.0):
        proc = RadarProcessor(capacity=4, floor_dwell_s=dwell_s)
        proc.configure(RadarConfig("r", "R-1", ZONES))
        found = []
        for s, z in enumerate(heights):
            found += proc.process([window("r", T0 + s, s, 2.5, 2.5, z)], [])
        kinds[dwell_s] = [d.kind for d in found if isinstance(d, FallFound)]
    assert "confirmed" not in kinds[0.0] and "floor_dwell" not in kinds[0.0]
    assert kinds[120.0].count("floor_dwell") == 1


def test_behaviour_runs_in_the_facility_time_zone() -> None:
    cfg = RadarConfig("r1", "R-1", ZONES, timezone="Asia/Shanghai")
    assert resident_settings(cfg).timezone == "Asia/Shanghai"
    # A resident's own fixed override still wins over the facility's zone.
    own = RadarConfig("r1", "R-1", ZONES, timezone="Asia/Shanghai", behaviour={"timezone": "UTC"})
    assert resident_settings(own).timezone == "UTC"


def test_learned_heights_are_restored_for_the_same_resident_and_reported_when_they_change() -> None:
    p = RadarProcessor(8)
    p.configure(RadarConfig("r1", "R-1", ZONES, learned={"upright_m": 0.95}))
    slot = p.slot_of["r1"]
    assert p.falls.learned_heights(slot) == {"upright_m": 0.95}
    assert p.learned_changes() == {}  # nothing new since it was loaded
    p.falls.set_learned_heights(slot, {"upright_m": 0.88})
    assert p.learned_changes() == {"r1": ("R-1", {"upright_m": 0.88})}
    assert p.learned_changes() == {}
    # Another resident in that bed: what was learned of the first one is forgotten.
    p.configure(RadarConfig("r1", "R-2", ZONES, learned={}))
    assert p.falls.learned_heights(slot) == {}
    # The radar calibrated anew: heights learned before are off by the change, forgotten too
    # (the hub clears the persisted ones when the offset changes).
    p.falls.set_learned_heights(slot, {"upright_m": 1.02})
    p.configure(RadarConfig("r1", "R-2", ZONES, learned={"upright_m": 1.02}))
    assert p.falls.learned_heights(slot) == {"upright_m": 1.02}  # same config: kept
    p.configure(RadarConfig("r1", "R-2", ZONES, height_offset_m=0.1))
    assert p.falls.learned_heights(slot) == {}


def test_a_floor_bed_zone_is_a_bed_for_the_trail_and_for_the_fall_detector() -> None:
    p = RadarProcessor(8)
    zones = {"floor_bed": {"rect": [0.2, 3.0, 1.6, 4.9]}}
    p.configure(RadarConfig("r1", "R-1", zones))
    slot = p.slot_of["r1"]
    # Lying on the floor bed for a minute: no fall, and the trail says "bed".
    found = []
    for i in range(60):
        found += p.process([window("r1", T0 + i, i, 0.9, 4.0, z=0.25)], [])
    for i in range(60, 75):  # then up and about in the room
        found += p.process([window("r1", T0 + i, i, 3.0, 2.5, z=1.0)], [])
    assert not [d for d in found if isinstance(d, FallFound)]
    assert "bed" in {d.zone for d in found if isinstance(d, VisitFound)}
    assert slot == 0


def _fall_windows(device: str) -> tuple[list[RadarFramesEvent], float]:
    from simulators import radar_motion as rm

    ep = rm.make_episode("fall_forward", "clean", np.random.default_rng(11), t0_s=T0)
    assert ep.impact_s is not None
    return rm.to_events(ep.rows, device, seq0=1), ep.impact_s


def _confirmed(found: list[object]) -> list[float]:
    return [d.at_s for d in found if isinstance(d, FallFound) and d.kind == "confirmed"]


def test_a_warm_up_gives_a_new_owner_the_descent_the_previous_one_saw() -> None:
    """A node taking a partition over replays the windows stored before its ack floor into its
    detectors (devices.nats_source warm-up): the fall is then confirmed on the live windows at the
    same moment as by a processor that saw everything live; without it, never."""
    windows, impact = _fall_windows("r")
    cut = next(i for i, w in enumerate(windows) if w.env.ts > impact + 1.5)

    def processor() -> RadarProcessor:
        proc = RadarProcessor(capacity=4, confirm_s=5.0)
        proc.configure(RadarConfig("r", "R-1", ZONES))
        return proc

    live = processor()
    whole = [d for w in windows for d in live.process([w], [])]
    assert len(_confirmed(whole)) == 1

    warmed = processor()
    # shuffled, with a resent window: the warm-up orders them and takes each once
    replay = windows[:cut][::-1] + [windows[2]]
    assert warmed.warm_up(replay) == cut
    rest = [d for w in windows[cut:] for d in warmed.process([w], [])]
    assert _confirmed(rest) == _confirmed(whole)

    cold = processor()
    assert _confirmed([d for w in windows[cut:] for d in cold.process([w], [])]) == []


def test_a_warm_up_never_feeds_a_detector_backwards() -> None:
    """Windows older than what a radar's detectors have seen are skipped (a node taking back a
    partition it owned before); unknown radars are skipped too."""
    windows, _ = _fall_windows("r")
    proc = RadarProcessor(capacity=4)
    proc.configure(RadarConfig("r", "R-1", ZONES))
    for w in windows[:10]:
        proc.process([w], [])
    other, _ = _fall_windows("unknown")
    assert proc.warm_up(windows[:10] + other[:5]) == 0
    assert proc.warm_up(windows[:12]) == 2


def test_a_radars_height_offset_is_taken_off_its_heights_and_no_other_radars() -> None:
    """A radar whose centroids read 0.3 m high lands a fall above floor level: missed, unless its
    installation says so (RadarConfig.height_offset_m); then it is confirmed as on a true radar.
    Radars stepped beside it keep their own heights."""
    from dataclasses import replace

    from simulators import radar_motion as rm

    ep = rm.make_episode("fall_forward", "clean", np.random.default_rng(11), t0_s=T0)
    high = replace(ep.rows, z_m=ep.rows.z_m + 0.3)
    proc = RadarProcessor(capacity=4, confirm_s=5.0)
    proc.configure_many(
        [
            RadarConfig("calibrated", "R-1", ZONES, height_offset_m=0.3),
            RadarConfig("true", "R-2", ZONES),
            RadarConfig("uncalibrated", "R-3", ZONES),
        ]
    )
    streams = [
        rm.to_events(high, "calibrated", seq0=1),
        rm.to_events(ep.rows, "true", seq0=1),
        rm.to_events(high, "uncalibrated", seq0=1),
    ]
    found: dict[str, list[float]] = {"calibrated": [], "true": [], "uncalibrated": []}
    for batch in zip(*streams, strict=True):
        for d in proc.process(list(batch), []):
            if isinstance(d, FallFound) and d.kind == "confirmed":
                found[d.device_id].append(d.at_s)
    assert len(found["true"]) == 1
    assert found["calibrated"] == found["true"]
    assert found["uncalibrated"] == []
