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
