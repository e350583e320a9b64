"""Reassessment reminders (pure): every 6 months, and at once after a fall or a hospital stay.

The interval: MZ/T 039-2013 (老年人能力评估, the standard GB/T 42195-2022 replaced) asked for a
reassessment every 6 months and an immediate one when the person's condition changes; we keep
6 months as the default (`Facility.settings["care"]["reassess_months"]` changes it) and treat a
fall and a hospital stay as such a change. docs/care-records.md says what to check in the text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MONTH_S = 30.4375 * 86_400.0  # an average month
DEFAULT_REASSESS_MONTHS = 6.0
# Scales a reminder is kept for: the ability assessment that sets the care level, and the fall
# risk scale a fall makes stale.
REMINDED_SCALES = ("gbt42195", "morse")


@dataclass(frozen=True, slots=True)
class Due:
    scale: str
    reason: str  # never_assessed | periodic | after_fall | after_hospital
    since: float | None  # when it became due (None: never assessed)


def reassessment_due(
    scale: str,
    *,
    last_assessed_at: float | None,
    now: float,
    falls: Iterable[float] = (),
    hospital_stays: Iterable[float] = (),
    every_months: float = DEFAULT_REASSESS_MONTHS,
) -> Due | None:
    """Whether `scale` is due for this resident, and why; the earliest reason wins."""
    if last_assessed_at is None:
        return Due(scale, "never_assessed", None)
    reasons = []
    after_fall = [t for t in falls if t > last_assessed_at]
    if after_fall:
        reasons.append(Due(scale, "after_fall", min(after_fall)))
    after_hospital = [t for t in hospital_stays if t > last_assessed_at]
    if after_hospital:
        reasons.append(Due(scale, "after_hospital", min(after_hospital)))
    periodic = last_assessed_at + every_months * MONTH_S
    if now >= periodic:
        reasons.append(Due(scale, "periodic", periodic))
    return min(reasons, key=lambda d: d.since or 0.0) if reasons else None
