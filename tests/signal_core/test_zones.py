"""Zone classification and the smoothing zone tracker."""

from __future__ import annotations

import numpy as np

from care_hub.signal_core.zones import (
    ZONE_CODE,
    ZoneMap,
    ZoneShape,
    ZoneTracker,
    classify_points,
    compile_zones,
)

T0 = 1_764_320_000.0
MAP = ZoneMap(
    (
        ZoneShape.rect("bed", 0.0, 3.0, 1.0, 5.0),
        ZoneShape("bathroom", ((4.0, 4.0), (5.0, 4.0), (5.0, 5.0), (4.5, 5.5))),
        ZoneShape.rect("door", 2.0, 0.0, 3.0, 0.5),
    )
)


def test_classify_points_rects_polygons_and_room() -> None:
    z = compile_zones(2, {0: MAP})
    slot = np.asarray([0, 0, 0, 0, 1])
    x = np.asarray([0.5, 4.5, 2.5, 2.5, 0.5])
    y = np.asarray([4.0, 4.9, 0.2, 2.5, 4.0])
    codes = classify_points(z, slot, x, y)
    assert codes.tolist() == [ZONE_CODE[n] for n in ("bed", "bathroom", "door", "room", "room")]


def feed(tr: ZoneTracker, xs: np.ndarray, ys: np.ndarray, t0: float = T0, fps: float = 10.0):
    n = xs.shape[0]
    t = t0 + np.arange(n) / fps
    out = []
    for w in range(0, n, 10):
        sl = slice(w, w + 10)
        out += tr.step(
            np.zeros(len(t[sl]), dtype=np.int64),
            t[sl],
            xs[sl],
            ys[sl],
            np.asarray([0]),
            np.asarray([t0 + min(w + 10, n) / fps]),
        )
    return out


def test_jitter_at_bed_edge_creates_no_visits() -> None:
    tr = ZoneTracker(1, {0: MAP})
    rng = np.random.default_rng(0)
    n = 3000  # 5 minutes lying at the bed's edge with 0.15 m jitter
    visits = feed(tr, 0.95 + rng.normal(0, 0.15, n), np.full(n, 4.0))
    assert visits == []
    cur = tr.current(0)
    assert cur is not None and cur.zone == "bed"


def test_real_move_creates_visit_with_backdated_entry() -> None:
    tr = ZoneTracker(1, {0: MAP})
    xs = np.concatenate([np.full(600, 0.5), np.full(600, 2.5)])
    ys = np.concatenate([np.full(600, 4.0), np.full(600, 2.5)])
    visits = feed(tr, xs, ys)
    assert len(visits) == 1
    v = visits[0]
    assert v.zone == "bed" and v.entered_at == T0 and v.left_at == T0 + 60.0
    cur = tr.current(0)
    assert cur is not None and cur.zone == "room" and cur.entered_at == T0 + 60.0


def test_nobody_seen_after_room_means_away_but_after_bed_keeps_bed() -> None:
    tr = ZoneTracker(2, {0: MAP, 1: MAP})
    tr.step(
        np.asarray([0, 1]), np.asarray([T0, T0]), np.asarray([2.5, 0.5]), np.asarray([2.5, 4.0])
    )
    out = tr.step(
        np.zeros(0, dtype=np.int64),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.asarray([0, 1]),
        np.asarray([T0 + 600, T0 + 600]),
    )
    assert [(v.slot, v.zone) for v in out] == [(0, "room")]
    assert tr.current(0).zone == "away"  # type: ignore[union-attr]
    assert tr.current(1).zone == "bed"  # type: ignore[union-attr]
    assert tr.last_seen_s(1) == T0 + 1.0


def _inside(px: float, py: float, poly: list[tuple[float, float]]) -> bool:
    """Plain ray casting, one point and one polygon at a time (the reference)."""
    inside = False
    for (x1, y1), (x2, y2) in zip(poly, poly[1:] + poly[:1], strict=True):
        if (y1 > py) != (y2 > py) and px < (x2 - x1) * (py - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def test_classify_points_agrees_with_plain_ray_casting_on_random_polygons() -> None:
    rng = np.random.default_rng(3)
    polys: dict[int, list[tuple[float, float]]] = {}
    for s in range(40):
        ang = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 9))))
        cx, cy, r = *rng.uniform(1, 4, 2), rng.uniform(0.3, 1.5)
        polys[s] = [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in ang]
    z = compile_zones(40, {s: ZoneMap((ZoneShape("bed", tuple(p)),)) for s, p in polys.items()})
    slot = rng.integers(0, 40, 4000)
    x, y = rng.uniform(0, 5, 4000), rng.uniform(0, 5, 4000)
    got = classify_points(z, slot, x, y)
    want = [_inside(px, py, polys[int(s)]) for s, px, py in zip(slot, x, y, strict=True)]
    assert sum(want) > 200  # the points hit polygons often enough to mean something
    assert list(got == ZONE_CODE["bed"]) == want
    assert set(got[~np.asarray(want)].tolist()) == {ZONE_CODE["room"]}


def test_rectangles_in_any_vertex_order_and_odd_quads_agree_with_ray_casting() -> None:
    """Axis-aligned rectangles are classified on their bounds: the same as ray casting on their
    edges and corners (points on a 0.1 m grid hit both), in every vertex order; quads with
    axis-aligned edges that are not rectangles (a doubled-back edge) and bowties stay polygons."""
    rng = np.random.default_rng(4)
    quads: dict[int, list[tuple[float, float]]] = {}
    for s in range(60):
        x0, y0 = np.round(rng.uniform(0, 3, 2), 1)
        w, h = np.round(rng.uniform(0.0, 2, 2), 1)
        c = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
        k = int(rng.integers(0, 4))
        c = c[k:] + c[:k]
        if s % 2:
            c = c[::-1]
        if s % 7 == 0:
            c = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0 + w, y0)]  # doubled back
        if s % 11 == 0:
            c = [(x0, y0), (x0 + w, y0 + h), (x0 + w, y0), (x0, y0 + h)]  # bowtie
        quads[s] = [(float(a), float(b)) for a, b in c]
    z = compile_zones(60, {s: ZoneMap((ZoneShape("bed", tuple(q)),)) for s, q in quads.items()})
    slot = rng.integers(0, 60, 20000)
    x, y = np.round(rng.uniform(-0.2, 5.2, 20000), 1), np.round(rng.uniform(-0.2, 5.2, 20000), 1)
    got = classify_points(z, slot, x, y)
    want = [_inside(px, py, quads[int(s)]) for s, px, py in zip(slot, x, y, strict=True)]
    assert sum(want) > 500
    assert list(got == ZONE_CODE["bed"]) == want


def test_a_radars_zone_visits_do_not_depend_on_the_radars_beside_it() -> None:
    """The hub steps every radar's rows in one batch: three radars whose person moves between
    bed, room, bathroom and door, unseen for minutes now and then (away), stepped together in
    1 s windows, close the same visits per radar as each stepped alone."""
    rng = np.random.default_rng(5)
    n, fps = 12000, 10.0
    spots = np.asarray([[0.5, 4.0], [2.5, 2.5], [4.5, 4.6], [2.5, 0.2]])  # bed, room, bath, door
    walks = []
    for _ in range(3):
        at = spots[rng.integers(0, 4, n // 300)].repeat(300, axis=0)
        xy = at + rng.normal(0.0, 0.05, (n, 2))
        seen = np.ones(n, dtype=bool)
        for a in rng.integers(0, n - 2400, 2):
            seen[a : a + 2400] = False  # 4 min unseen: "away" after 2 min in the room
        walks.append((xy, seen))
    t = T0 + np.arange(n) / fps

    def run(which: list[int]) -> dict[int, list[tuple[str, float, float | None]]]:
        tr = ZoneTracker(len(which), {j: MAP for j in range(len(which))})
        out = []
        for w in range(0, n, 10):
            sl = slice(w, w + 10)
            until = T0 + min(w + 10, n) / fps
            parts = [(j, walks[i][0][sl], walks[i][1][sl]) for j, i in enumerate(which)]
            out += tr.step(
                np.concatenate([np.full(int(m.sum()), j) for j, _, m in parts]).astype(np.int64),
                np.concatenate([t[sl][m] for _, _, m in parts]),
                np.concatenate([xy[m, 0] for _, xy, m in parts]),
                np.concatenate([xy[m, 1] for _, xy, m in parts]),
                np.arange(len(which), dtype=np.int64),
                np.full(len(which), until),
            )
        return {
            which[j]: [(v.zone, v.entered_at, v.left_at) for v in out if v.slot == j]
            for j in range(len(which))
        }

    together = run([0, 1, 2])
    assert sum(len(v) for v in together.values()) > 10
    assert any(v[0] == "away" for vs in together.values() for v in vs)
    for i in range(3):
        assert run([i])[i] == together[i]
