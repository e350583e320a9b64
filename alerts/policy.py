"""Alert types, severities and their mapping to IEC 60601-1-8 alarm priorities (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from care_hub.kernel.local_time import DEFAULT_TIMEZONE

ALERT_TYPES = (
    "fall",
    "call",
    "vitals",
    "apnea",
    "inactivity",
    "bed_exit",
    "device_offline",
    "battery_low",
    # Care records (care_records.overdue): a recurring care task not done in time; low, a wall item.
    "care_task_overdue",
)
SEVERITIES = ("critical", "high", "medium", "low")
STATES = ("open", "acknowledged", "resolved")
OUTCOMES = (
    "real_fall",
    "false_alarm",
    "assisted",
    "transferred_to_hospital",
    "resolved",
    "cancelled",
    "device_returned",
    "no_action_needed",
    "referred_to_gp",
)

# IEC 60601-1-8 has three alarm priorities: high (immediate response), medium (prompt), low (awareness).
# Our four severities fold onto them; critical and high both demand an immediate response.
PRIORITY_BY_SEVERITY = {"critical": "high", "high": "high", "medium": "medium", "low": "low"}
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # 0 = most severe

# Default severity by source: falls and apnea are critical, calls high; the rest per facility settings.
DEFAULT_SEVERITY = {
    "fall": "critical",
    "apnea": "critical",
    "call": "high",
    "vitals": "medium",
    "bed_exit": "high",
    "inactivity": "medium",
    "device_offline": "medium",
    "battery_low": "low",
    # The hub takes no device messages in: every call, fall and vital may be waiting behind it.
    "ingest_stalled": "high",
    "care_task_overdue": "low",
}


def priority(severity: str) -> str:
    return PRIORITY_BY_SEVERITY.get(severity, "low")


# --- Per-facility overrides, escalation tiers, snooze, shifts (all pure) -----------------

# Types whose severity a facility may change in Facility.settings["alerts"]["severity"]: the
# nuisance-prone ones. Falls, apnea and calls keep their severity everywhere.
OVERRIDABLE_SEVERITY = ("device_offline", "battery_low", "inactivity", "bed_exit")
# Escalation tiers by escalation_level: who an unacknowledged alert is addressed to.
TIERS = ("caregivers", "charge_nurse", "family")
MAX_ESCALATION_LEVEL = len(TIERS) - 1
# A snooze silences a nuisance alert for a bounded time; life-safety alerts cannot be snoozed.
MAX_SNOOZE_S = 30 * 60
SNOOZABLE = ("device_offline", "battery_low", "inactivity", "bed_exit", "vitals")
# The three care-home questions after a fall alarm (FIELD-NOTES, care practice).
FALL_QUESTIONS = ("on_floor", "was_resident", "unintentional")
# Outcomes that say nothing about whether the alarm was real (not counted in false-alarm rates).
NEUTRAL_OUTCOMES = ("cancelled", "device_returned")
DEFAULT_SHIFTS = {"day": "07:00-19:00", "night": "19:00-07:00"}


def alert_settings(facility_settings: dict[str, Any] | None) -> dict[str, Any]:
    value = (facility_settings or {}).get("alerts") or {}
    return value if isinstance(value, dict) else {}


def more_severe(a: str, b: str) -> str:
    return a if SEVERITY_RANK.get(a, 9) <= SEVERITY_RANK.get(b, 9) else b


def effective_severity(
    type: str, requested: str, facility_settings: dict[str, Any] | None, shift: str | None = None
) -> str:
    """The severity an alert is raised with, after the facility's overrides.

    `alerts.severity` sets a type's severity; `alerts.severity_by_shift.<shift>` overrides it for
    one shift (a bed exit matters more at night). A caller that asked for more than the type's
    default (a lives-alone radar going offline) keeps the more severe of the two.
    """
    if type not in OVERRIDABLE_SEVERITY:
        return requested
    cfg = alert_settings(facility_settings)
    override = (cfg.get("severity") or {}).get(type)
    if shift is not None:
        override = ((cfg.get("severity_by_shift") or {}).get(shift) or {}).get(type, override)
    if override not in SEVERITIES:
        return requested
    if requested != DEFAULT_SEVERITY.get(type):
        return more_severe(override, requested)
    return str(override)


def ack_timeout_s(
    severity: str, facility_settings: dict[str, Any] | None, defaults: dict[str, float]
) -> float | None:
    """Seconds an alert may stay unacknowledged before it escalates; None = never escalates."""
    value = (alert_settings(facility_settings).get("ack_timeout_s") or {}).get(severity)
    if value is None:
        value = defaults.get(severity)
    return float(value) if value else None


def reminder_interval_s(facility_settings: dict[str, Any] | None, default: float) -> float:
    value = alert_settings(facility_settings).get("reminder_interval_s")
    return float(value) if value else default


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def shift_at(epoch_s: float, facility_settings: dict[str, Any] | None) -> str:
    """The named shift running at `epoch_s` in the facility's time zone (`shifts`, `timezone`).

    Shifts are "HH:MM-HH:MM" local times; one may wrap past midnight. Default day 07-19, night.
    """
    cfg = facility_settings or {}
    shifts = cfg.get("shifts") or DEFAULT_SHIFTS
    try:
        tz = ZoneInfo(str(cfg.get("timezone") or DEFAULT_TIMEZONE))
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo(DEFAULT_TIMEZONE)
    local = datetime.fromtimestamp(epoch_s, tz)
    minute = local.hour * 60 + local.minute
    for name, span in shifts.items():
        start_s, _, end_s = str(span).partition("-")
        start, end = _minutes(start_s), _minutes(end_s)
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        if inside:
            return str(name)
    return next(iter(shifts), "day")


def fall_was_real(answers: dict[str, Any] | None) -> bool | None:
    """A fall alarm was a real fall when someone was on the floor, it was the resident, and it was
    unintentional; None if the questions were not answered."""
    if not answers or not all(q in answers for q in FALL_QUESTIONS):
        return None
    return all(bool(answers[q]) for q in FALL_QUESTIONS)


def is_false_alarm(type: str, outcome: str | None, answers: dict[str, Any] | None) -> bool | None:
    """True/False for a resolved alert; None when its outcome says nothing (cancelled, returned)."""
    if outcome == "false_alarm":
        return True
    if type == "fall":
        real = fall_was_real(answers)
        if real is not None:
            return not real
    if outcome in NEUTRAL_OUTCOMES:
        return None
    return False
