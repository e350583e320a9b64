"""Alert types, severities and their mapping to IEC 60601-1-8 alarm priorities (pure)."""

from __future__ import annotations

ALERT_TYPES = ("fall", "call", "vitals", "apnea", "inactivity", "bed_exit", "device_offline", "battery_low")
SEVERITIES = ("critical", "high", "medium", "low")
STATES = ("open", "acknowledged", "resolved")
OUTCOMES = ("real_fall", "false_alarm", "assisted", "transferred_to_hospital", "resolved", "cancelled",
            "device_returned")

# IEC 60601-1-8 has three alarm priorities: high (immediate response), medium (prompt), low (awareness).
# Our four severities fold onto them; critical and high both demand an immediate response.
PRIORITY_BY_SEVERITY = {"critical": "high", "high": "high", "medium": "medium", "low": "low"}
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # 0 = most severe

# Default severity by source (issue: fall/apnea critical, call high; the rest per facility settings).
DEFAULT_SEVERITY = {
    "fall": "critical",
    "apnea": "critical",
    "call": "high",
    "vitals": "medium",
    "bed_exit": "high",
    "inactivity": "medium",
    "device_offline": "medium",
    "battery_low": "low",
}


def priority(severity: str) -> str:
    return PRIORITY_BY_SEVERITY.get(severity, "low")
