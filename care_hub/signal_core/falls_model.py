"""The learned judge of fall candidates: a small gradient-boosted tree ensemble, evaluated in numpy.

Trained by ``python -m bench.train_falls`` (scikit-learn ``HistGradientBoostingClassifier``, fixed
seed) on the *tuning* episode families only (simulators/fall_families.py T1-T7, plus ordinary
days) and exported to ``models/falls_gbm.json``: per tree the split feature, threshold, where
missing values go, children and leaf values. The last tree splits only on ``fresh_per_s``: a logit
offset that gives candidates from trackers reporting every frame a threshold of their own (0.41
against 0.31 for held modules, round 27; since round 10) while ``threshold_p`` stays one number.
Inference needs no scikit-learn: every candidate of a batch walks all trees at once, one numpy
step per tree level (the training script checks it matches ``predict_proba``).

The features are what a person would look at (``FEATURES``): how the body got to the floor
(descent time, drop relative to the person's learned upright height, peak downward speed, the
deceleration at the end, staging on the way down), where it is now (height, relative height,
distance to furniture) and what it did after (stillness, roaming, back up). A detection carries
them, so an alert says what decided it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

FloatArr = npt.NDArray[np.float64]

# Order matters: it is the column order of the model's input (and of FallDetection.features).
FEATURES: tuple[str, ...] = (
    # how the body got there (at suspicion)
    "pre_m",  # median height 1.5-5 s before (or before the last upright moment)
    "upright_m",  # the person's learned upright height (NaN until learned)
    "descent_s",  # last upright bin -> first floor bin (NaN if never seen upright)
    "peak_fall_mps",  # fastest bin-to-bin descent of 0.5 s bin medians
    "decel_mps2",  # largest drop in downward bin-to-bin speed at the end of the descent (impact)
    "vz_min_mps",  # most negative per-bin median tracker vz in the descent (NaN: no velocities)
    "vz_decel_mps",  # largest rise of per-bin median vz in the descent (the impact, from vz)
    "slope_min_mps",  # steepest per-bin least-squares height slope in the descent (no vz needed)
    "kneel_bins",  # 3-bin medians at kneeling height (0.55-0.8 m) in the 6 s before the floor
    "kneel_step_m",  # kneeling plateau -> floor (NaN if no plateau)
    "slow_bins",  # bins between floor and upright height during the descent
    "slow_step_m",  # those bins' median -> floor (NaN if none)
    "seen",  # 1 if the descent was seen from an upright reference (rule a)
    "unseen",  # 1 if a hold or dropout covered the descent (rule b)
    "orphan",  # 1 if judged against the slot's upright reference (rule d)
    "from_support",  # 1 if the reference was in a bed, sofa or chair (rule c)
    "rule",  # 1 if the hand-written rules (vetoes included) suspected a fall
    "floor_first_m",  # 3-bin median height when suspected
    "top_before_m",  # highest 3-bin median in the 8 s before floor level
    "floor_bed",  # 1 if on or beside a floor bed (a mattress on the floor)
    "furniture_m",  # distance to the nearest bed/seat zone (NaN: no zones)
    "tracks_live",  # tracks seen in the last 2 s (visitors, pets)
    "fresh_per_s",  # fresh samples per second in the 5 s before (held modules give few)
    "shift_m",  # where the "before" was seen -> where the floor was reached (a module
    # switching to a pet elsewhere jumps metres; a fall lands 0.2-1.2 m on)
    "floor_before_bins",  # floor-level bins before the last upright moment (20 s ring)
    # after (at the confirmation deadline)
    "down_med_m",  # median height since the suspicion (NaN: not seen since)
    "down_rel",  # that / upright_m
    "drop_m",  # pre_m - down_med_m
    "drop_rel",  # drop_m / upright_m
    "roam_m",  # farthest the target moved from where it was suspected
    "post_mad_m",  # median absolute deviation of bin heights since (stillness)
    "post_max_m",  # highest bin median since (a get-up shows here)
    "post_low_share",  # share of bins since at floor level
    "post_bins",  # fresh bins since (0: vanished, as still people do on TI trackers)
    "post_xy_mad_m",  # median absolute deviation of bin positions since
    "post_vz_mad_mps",  # median |vz| since (NaN: no velocities)
    "others_up_bins",  # the slot's other tracks' bins above floor level since (round 6)
    "others_up_share",  # those / (those + post_bins): a one-target module back on someone up
    # the trivial rule of issue 13 (round 8; falls.TRIV_*): its last crossing from above 0.6 m to
    # below 0.35 m on one tracker id, relative to the impact (NaN: none near it), and the share of
    # that id's bins below 0.35 m since
    "triv_dt",
    "triv_low_share",
    # the person's own learned height on the furniture nearest the landing (seated on a chair or
    # sofa, lying on a bed; NaN: none within 1 m, a floor bed, or not learned yet), at suspicion,
    # and the median height since minus it (a sitter's jittered median slipping out of the
    # footprint reads ~0; a slide off the seat onto the floor reads well below)
    "support_ref_m",
    "down_vs_support_m",
    # 1 if the "before" sat still at seat height outside every mapped seat (round 30: a chair or
    # sofa nobody drew on the map; falls.SIT_*)
    "sat_before",
)
N_FEATURES = len(FEATURES)
MODEL_FILE = "falls_gbm.json"
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURES)}  # feature name -> column

# A fall out of a bed, sofa or chair ends lower than it began. A candidate raised only because its
# "before" lay in a support zone, whose "before" was already below NO_DROP_PRE_M (under a seat:
# FIELD-NOTES puts sitting on a low sofa at 0.5-0.65 m) and whose median height in the 5 s after
# lies less than NO_DROP_M below it, has not come out of anything: on tuning days these were a pet
# hopping off a bed or sofa (a pet whose simulated height had drifted to a seat's; round 26 fixed
# the drift: a child or a cat on a sofa's arm does it for real), or a person shifting at a low
# bed's edge (docs/detection.md, "A from-support candidate that did not drop"). Only on trackers
# that report every frame: a held module's median since rests on a few samples with 0.15-0.25 m
# jitter, so 5 cm says nothing there (gated on the candidate's fresh samples a second instead, it
# cost a held module a tuning fall).
NO_DROP_PRE_M = 0.5
NO_DROP_M = 0.05


def _only_support(x: FloatArr) -> npt.NDArray[np.bool_]:
    """Candidates raised only because their "before" lay in a support zone (rule c)."""
    return np.asarray(
        (x[:, FEATURE_INDEX["from_support"]] == 1)
        & (x[:, FEATURE_INDEX["seen"]] == 0)
        & (x[:, FEATURE_INDEX["unseen"]] == 0)
        & (x[:, FEATURE_INDEX["orphan"]] == 0),
        dtype=np.bool_,
    )


def no_drop_from_support(x: FloatArr, every_frame: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Per row of final features ``x`` (n, n_features) and whether its tracker reports every
    frame: the candidate is vetoed (see NO_DROP_PRE_M). NaN (not seen since: vanished) never
    vetoes."""
    with np.errstate(invalid="ignore"):
        return np.asarray(
            _only_support(x)
            & every_frame
            & (x[:, FEATURE_INDEX["pre_m"]] < NO_DROP_PRE_M)
            & (x[:, FEATURE_INDEX["drop_m"]] < NO_DROP_M),
            dtype=np.bool_,
        )


# A candidate raised only because its "before" lay in a support zone, whose "before" there read
# BELOW_SEAT_M or more under this person's own learned height on that piece of furniture (seated
# on the chair or sofa, lying on the bed), was not this person on it: on tuning days these were
# a pet crossing a seat's footprint at 0.4-0.5 m and stepping off it (issue 13 round 15: a pet
# whose simulated height had drifted, fixed in round 26; anything seat-high does the same; the
# falls out of seats of the tuning families read -0.06 to +0.06 m against the seat nearest the
# landing, 5th to 95th percentile, and none of them is vetoed). Only on trackers that report
# every frame (a held module's "before" rests on a few samples with 0.15-0.25 m jitter; there it
# moved tuning days by 1%). NaN (nothing learned there) never vetoes.
BELOW_SEAT_M = 0.12


def below_own_support(
    x: FloatArr, every_frame: npt.NDArray[np.bool_], support_m: FloatArr
) -> npt.NDArray[np.bool_]:
    """Per row of final features ``x``, whether its tracker reports every frame and the person's
    learned height on the support its "before" was seen in: the candidate is vetoed (see
    BELOW_SEAT_M)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(
            _only_support(x)
            & every_frame
            & (x[:, FEATURE_INDEX["pre_m"]] < support_m - BELOW_SEAT_M),
            dtype=np.bool_,
        )


@dataclass(frozen=True, slots=True)
class TreeModel:
    """Padded node arrays of all trees: (n_trees, n_nodes)."""

    feature: npt.NDArray[np.int64]
    threshold: FloatArr
    missing_left: npt.NDArray[np.bool_]
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    leaf: npt.NDArray[np.bool_]
    value: FloatArr
    baseline: float
    depth: int
    threshold_p: float  # probability at or above which a candidate is a fall
    features: tuple[str, ...]  # what the model reads (``feature`` holds their FEATURES columns)

    def proba(self, x: FloatArr) -> FloatArr:
        """P(fall) per row of ``x`` (n, n_features); NaN means missing."""
        n = x.shape[0]
        t = self.feature.shape[0]
        if n == 0:
            return np.zeros(0)
        trees = np.arange(t)[None, :]
        node = np.zeros((n, t), dtype=np.int64)
        rows = np.arange(n)[:, None]
        for _ in range(self.depth):
            f = self.feature[trees, node]
            v = x[rows, f]
            go_left = np.where(
                np.isnan(v), self.missing_left[trees, node], v <= self.threshold[trees, node]
            )
            nxt = np.where(go_left, self.left[trees, node], self.right[trees, node])
            node = np.where(self.leaf[trees, node], node, nxt)
        raw = self.baseline + self.value[trees, node].sum(axis=1)
        return np.asarray(1.0 / (1.0 + np.exp(-raw)), dtype=np.float64)


def from_dict(d: dict[str, object]) -> TreeModel:
    """Build a TreeModel from the exported JSON document."""
    trees = d["trees"]
    assert isinstance(trees, list)
    width = max(len(tr["feature"]) for tr in trees)

    def pad(key: str, fill: float, dtype: type) -> npt.NDArray[np.generic]:
        out: npt.NDArray[np.generic] = np.full((len(trees), width), fill, dtype=dtype)
        for i, tr in enumerate(trees):
            out[i, : len(tr[key])] = tr[key]
        return out

    # the model names the features it reads, in its own column order: mapped here by name onto
    # FEATURES, so a detector computing more features than an older model reads still runs it
    feats = tuple(str(f) for f in d["features"])  # type: ignore[attr-defined]
    unknown = [f for f in feats if f not in FEATURE_INDEX]
    if unknown:
        raise ValueError(f"model reads features this detector does not compute: {unknown}")
    column = np.array([FEATURE_INDEX[f] for f in feats], dtype=np.int64)
    return TreeModel(
        feature=column[pad("feature", 0, np.int64).astype(np.int64)],
        threshold=pad("threshold", 0.0, np.float64).astype(np.float64),
        missing_left=pad("missing_left", 1, np.bool_).astype(np.bool_),
        left=pad("left", 0, np.int64).astype(np.int64),
        right=pad("right", 0, np.int64).astype(np.int64),
        leaf=pad("leaf", 1, np.bool_).astype(np.bool_),
        value=pad("value", 0.0, np.float64).astype(np.float64),
        baseline=float(d["baseline"]),  # type: ignore[arg-type]
        depth=int(d["depth"]),  # type: ignore[call-overload]
        threshold_p=float(d["threshold_p"]),  # type: ignore[arg-type]
        features=feats,
    )


@cache
def default_model() -> TreeModel | None:
    """The shipped model (None if the package has none: the detector then uses its rules)."""
    try:
        text = resources.files("care_hub.signal_core").joinpath("models", MODEL_FILE).read_text()
    except (FileNotFoundError, OSError):
        return None
    return from_dict(json.loads(text))
