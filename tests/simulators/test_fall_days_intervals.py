"""bench.fall_days: the false-alarm interval that resamples residents."""

from __future__ import annotations

import math

from bench.fall_days import poisson_ci, resident_ci


def test_residents_alike_give_an_interval_no_wider_than_poisson() -> None:
    # 12 residents x 2 h, one false alarm each: every resample is the same rate
    lo, hi = resident_ci([1] * 12, hours=2.0)
    assert math.isclose(lo, 12.0) and math.isclose(hi, 12.0)
    plo, phi = poisson_ci(12, 12 * 2.0 / 24.0)
    assert plo < lo and hi < phi


def test_one_bad_resident_widens_the_interval_beyond_poisson() -> None:
    # the same 12 false alarms, all on one resident's day (a pet, say): the rate is as likely
    # zero as twice what it is, which the Poisson interval over 1 resident-day cannot show
    counts = [12] + [0] * 11
    plo, phi = poisson_ci(12, 12 * 2.0 / 24.0)
    lo, hi = resident_ci(counts, hours=2.0)
    assert lo == 0.0 and plo > 5.0
    assert hi > phi
