"""How a model file names the features its trees read (care_hub/signal_core/falls_model.py)."""

from __future__ import annotations

import numpy as np
import pytest

from care_hub.signal_core.falls_model import FEATURE_INDEX, FEATURES, from_dict


def _one_split(feature: str, threshold: float, features: list[str]) -> dict[str, object]:
    # one tree: logit -2 at or below the threshold, +2 above it (missing goes left)
    return {
        "features": features,
        "baseline": 0.0,
        "depth": 2,
        "threshold_p": 0.5,
        "trees": [
            {
                "feature": [features.index(feature), 0, 0],
                "threshold": [threshold, 0.0, 0.0],
                "missing_left": [1, 0, 0],
                "left": [1, 0, 0],
                "right": [2, 0, 0],
                "leaf": [0, 1, 1],
                "value": [0.0, -2.0, 2.0],
            }
        ],
    }


def test_a_model_reads_its_features_by_name_whatever_their_order() -> None:
    # a model fitted on two features, in its own column order, runs on the detector's full rows
    model = from_dict(_one_split("drop_m", 0.3, ["drop_m", "pre_m"]))
    x = np.full((2, len(FEATURES)), np.nan)
    x[:, FEATURE_INDEX["pre_m"]] = 0.9  # what a column-order mix-up would read
    x[:, FEATURE_INDEX["drop_m"]] = [0.1, 0.6]
    p = model.proba(x)
    assert p[0] < 0.2 and p[1] > 0.8
    assert model.features == ("drop_m", "pre_m")


def test_a_model_reading_a_feature_the_detector_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="no_such_feature"):
        from_dict(_one_split("no_such_feature", 0.0, ["no_such_feature"]))


def test_a_judge_trained_without_some_features_exports_what_it_reads() -> None:
    # bench.train_falls --without: fitted on a subset of the columns, exported with their names
    # (and the frequent-sample offset tree on fresh_per_s), it scores the detector's full rows as
    # predict_proba scores the subset
    from sklearn.ensemble import HistGradientBoostingClassifier

    from bench.train_falls import export, shifted

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, len(FEATURES)))
    x[rng.random(x.shape) < 0.1] = np.nan
    y = np.nan_to_num(x[:, FEATURE_INDEX["drop_m"]]) + 0.5 * rng.normal(size=400) > 0
    kept = [n for n in FEATURES if n not in ("pre_m", "decel_mps2")]
    xk = x[:, [FEATURE_INDEX[n] for n in kept]]
    clf = HistGradientBoostingClassifier(max_iter=8, random_state=0).fit(xk, y)
    doc = export(clf, 0.4, 0.3, kept)
    model = from_dict(doc)
    assert model.features == tuple(kept)
    ref = shifted(clf.predict_proba(xk)[:, 1], x, 0.4, 0.3)
    assert np.allclose(model.proba(x), ref, atol=1e-9)
    # what it does not read does not move it
    x2 = x.copy()
    x2[:, FEATURE_INDEX["pre_m"]] = 99.0
    assert np.array_equal(model.proba(x2), model.proba(x))


def test_a_bagged_judge_exports_the_mean_of_its_members_logits() -> None:
    # bench.train_falls --bags: judges fitted on bootstrap resamples of episodes, exported as all
    # their trees with each leaf divided by their number, score as the average of their logits
    from bench.train_falls import Bagged, export

    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, len(FEATURES)))
    y = x[:, FEATURE_INDEX["drop_m"]] + 0.7 * rng.normal(size=300) > 0
    ep = np.arange(300) // 3  # three candidates an episode
    judge = Bagged(3).fit(x, y, np.ones(300), ep)
    raws = np.array([m.decision_function(x) for m in judge.members])
    assert len(judge.members) == 3 and not np.allclose(raws[0], raws[1])  # resampled apart
    model = from_dict(export(judge, 0.5))
    assert np.allclose(model.proba(x), 1 / (1 + np.exp(-raws.mean(axis=0))), atol=1e-9)
    # one bag is the plain fit on every candidate
    single = Bagged(1).fit(x, y, np.ones(300), ep)
    assert np.allclose(from_dict(export(single, 0.5)).proba(x), single.proba(x), atol=1e-9)


def test_a_routed_judge_is_each_judge_on_its_own_side_of_the_fresh_sample_split() -> None:
    # bench.train_falls --held-from: an older judge (reading fewer features) kept for held-module
    # candidates, a new one for candidates of trackers reporting every frame, each at its own
    # threshold; the frequent side's offset stays the last tree
    from sklearn.ensemble import HistGradientBoostingClassifier

    from bench.train_falls import FRESH_SPLIT_PER_S, export, routed, shifted

    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, len(FEATURES)))
    x[:, FEATURE_INDEX["fresh_per_s"]] = rng.uniform(0.0, 20.0, 400)
    x[rng.random(x.shape) < 0.05] = np.nan
    y = np.nan_to_num(x[:, FEATURE_INDEX["drop_m"]]) + 0.5 * rng.normal(size=400) > 0
    old_feats = [n for n in FEATURES if n != "sat_before"]
    xo = x[:, [FEATURE_INDEX[n] for n in old_feats]]
    old = HistGradientBoostingClassifier(max_iter=6, random_state=0).fit(xo, y)
    new = HistGradientBoostingClassifier(max_iter=9, random_state=1).fit(x, ~y)
    held_doc = export(old, 0.3, 0.6, old_feats)
    doc = routed(export(new, 0.3, 0.45, list(FEATURES)), held_doc)
    score = from_dict(doc).proba(x)
    frequent = x[:, FEATURE_INDEX["fresh_per_s"]] > FRESH_SPLIT_PER_S
    assert 50 < frequent.sum() < 350
    want_new = shifted(new.predict_proba(x)[:, 1], x, 0.3, 0.45)
    want_old = shifted(old.predict_proba(xo)[:, 1], x, 0.3, 0.6)
    assert np.allclose(score[frequent], want_new[frequent], atol=1e-9)
    assert np.allclose(score[~frequent], want_old[~frequent], atol=1e-9)
    assert doc["threshold_p"] == 0.3 and doc["frequent_samples"]["threshold_p"] == 0.45
    # the last tree is the frequent side's offset: without it the held side does not move
    bare = from_dict({**doc, "trees": doc["trees"][:-1]}).proba(x)
    assert np.allclose(bare[~frequent], score[~frequent], atol=1e-12)
    assert not np.allclose(bare[frequent], score[frequent])
    with pytest.raises(ValueError):
        routed(export(new, 0.35, 0.45, list(FEATURES)), held_doc)


def test_the_worst_left_out_family_is_named_per_tracker_and_rate() -> None:
    # bench.train_falls --folds family: per tracker, the tuning family with the lowest
    # sensitivity, the lowest specificity and the most ordinary-day false alarms
    from bench.train_falls import worst_family

    fams = ["T1_average"] * 8 + ["T2_short_far"] * 8 + ["T1_average", "T2_short_far"]
    d = {
        "ep_family": np.array(fams),
        "ep_trk": np.array(["multi_clean"] * 16 + ["day_multi_clean"] * 2),
        "ep_fall": np.array(([True] * 4 + [False] * 4) * 2 + [False, False]),
        "ep_hours": np.array([0.0] * 16 + [24.0, 24.0]),
    }
    # one candidate an episode (two on T1's day), scored 1 where it alarms
    d["ep"] = np.array([*range(18), 16])
    d["at_ok"] = np.ones(19, dtype=np.bool_)
    score = np.zeros(19)
    score[[0, 1, 2, 3, 4]] = 1.0  # T1: every fall, one of four non-falls
    score[[8, 9]] = 1.0  # T2: two of four falls, no non-fall
    score[[16, 18]] = 1.0  # T1's day: two false alarms; T2's day none
    (se, se_f), (sp, sp_f), (fa, fa_f) = worst_family(d, score, 0.5)["multi_clean"]
    assert (se, se_f) == (0.5, "T2_short_far")
    assert (sp, sp_f) == (0.75, "T1_average")
    assert (fa, fa_f) == (2.0, "T1_average")
