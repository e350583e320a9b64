"""Judgement of one health-kit reading in context: glucose, blood-pressure crisis, NEWS2.

Pure: takes the reading (as in a ``KitEvent``) and the resident's recent readings, returns a
``Judgement`` whose ``detail()`` is the JSON ``detail`` of a ``vitals`` alert. No I/O.

Sources:
- ADA: American Diabetes Association, Standards of Care in Diabetes-2024, section 6 "Glycemic
  Goals and Hypoglycemia" (table 6.4): level 1 hypoglycaemia < 70 mg/dL (3.9 mmol/L) and
  >= 54 mg/dL; level 2 < 54 mg/dL (3.0 mmol/L), "clinically significant", needs immediate action.
- Time-in-range consensus (Battelino et al., Diabetes Care 2019;42:1593, endorsed in ADA section
  6): level 2 hyperglycaemia > 250 mg/dL (13.9 mmol/L).
- 300 mg/dL (16.7 mmol/L): the usual point where sick-day guidance asks for ketone testing and a
  call to the diabetes team (ADA patient guidance; JBDS-IP UK inpatient guidance uses > 16 mmol/L
  with ketones). A care-home protocol should confirm it; it is a named constant for that reason.
- Hyperosmolar hyperglycaemic state: glucose >= 600 mg/dL (33.3 mmol/L) (Umpierrez et al.,
  "Hyperglycemic Crises in Adults With Diabetes: A Consensus Report", Diabetes Care 2024).
- Hypertensive crisis: ACC/AHA 2017 guideline (Whelton et al., Hypertension 2018;71:e13) defines
  hypertensive emergency/urgency at "severe elevations in BP (> 180/120 mm Hg)"; the AHA's public
  chart says "higher than 180 and/or higher than 120". We alert at >= 180 or >= 120: home cuffs
  read in whole mmHg with +-5 mmHg error, so a reading of exactly 180 is not evidence of safety.
  Urgency (no organ damage) versus emergency (with) cannot be told from a number: a caregiver must
  check symptoms, so a crisis is ``high``, not ``critical``.
- NEWS2: see ``news2.py`` (RCP 2017).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from care_hub.signal_core import news2
from care_hub.signal_core.news2 import Reading

Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_RANK: dict[str | None, int] = {None: 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

# Glucose, mmol/L (ADA; see module docstring).
GLUCOSE_HYPO_LEVEL2_MMOL_L = 3.0  # < 3.0: level 2 hypoglycaemia
GLUCOSE_HYPO_LEVEL1_MMOL_L = 3.9  # < 3.9: level 1 hypoglycaemia
GLUCOSE_HYPER_LEVEL2_MMOL_L = 13.9  # > 13.9: level 2 hyperglycaemia
GLUCOSE_KETONE_RISK_MMOL_L = 16.7  # >= 16.7: ketone check / call the diabetes team
GLUCOSE_HHS_MMOL_L = 33.3  # >= 33.3: hyperosmolar-range glucose
# Severities: level 2 hypo needs treatment now and an elder alone may not manage it -> critical;
# level 1 -> medium (treat with 15 g carbohydrate, recheck in 15 min); level 2 hyper -> medium;
# ketone-risk band -> high; HHS range -> critical.

# Blood pressure, mmHg (ACC/AHA 2017; see module docstring).
BP_CRISIS_SYSTOLIC_MMHG = 180.0
BP_CRISIS_DIASTOLIC_MMHG = 120.0

# Plausibility: outside these the reading is a device or entry error, judged as such, not alerted.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "systolic": (40.0, 300.0),
    "diastolic": (20.0, 200.0),
    "pulse": (20.0, 250.0),
    "bpm": (20.0, 250.0),
    "percent": (50.0, 100.0),
    "celsius": (25.0, 45.0),
    "mmol_l": (0.5, 60.0),
}

# Which NEWS2 parameter each kit value feeds.
NEWS2_PARAMETER_BY_VALUE: dict[tuple[str, str], news2.Parameter] = {
    ("blood_pressure", "systolic"): "systolic_bp",
    ("blood_pressure", "pulse"): "pulse",
    ("spo2", "percent"): "spo2",
    ("spo2", "pulse"): "pulse",
    ("temperature", "celsius"): "temperature",
    ("pulse", "bpm"): "pulse",
}


@dataclass(frozen=True, slots=True)
class Judgement:
    """The outcome of judging one reading: whether to alert, how severely, and why."""

    alert: bool
    severity: Severity | None
    rule_id: str
    reason: str
    score: float | None = None  # NEWS2 total, robust z, or the value compared
    readings: tuple[dict[str, Any], ...] = ()  # which readings the judgement rests on
    rules: tuple[Judgement, ...] = field(default=())  # every rule that fired, most severe first
    extra: dict[str, Any] = field(default_factory=dict)  # rule-specific detail (baseline, ...)

    def detail(self) -> dict[str, Any]:
        """JSON-ready ``detail`` for a ``vitals`` alert."""
        out: dict[str, Any] = {
            "rule": self.rule_id,
            "reason": self.reason,
            "score": self.score,
            "readings": list(self.readings),
        }
        out.update(self.extra)
        if self.rules:
            out["rules"] = [
                {"rule": r.rule_id, "severity": r.severity, "reason": r.reason, "score": r.score}
                for r in self.rules
            ]
        return out


NO_ALERT = "none"


def _reading(kind: str, name: str, value: float, ts_s: float, unit: str) -> dict[str, Any]:
    return {"kind": kind, "name": name, "value": value, "unit": unit, "ts": ts_s}


def judge_glucose(mmol_l: float, ts_s: float, context: str | None = None) -> Judgement:
    """ADA glucose bands for one capillary reading."""
    r = (_reading("glucose", "mmol_l", mmol_l, ts_s, "mmol/L"),)
    ctx = f" ({context})" if context else ""
    if mmol_l < GLUCOSE_HYPO_LEVEL2_MMOL_L:
        return Judgement(
            True,
            "critical",
            "glucose.hypo_level2",
            f"glucose {mmol_l:.1f} mmol/L{ctx} < {GLUCOSE_HYPO_LEVEL2_MMOL_L}: "
            "level 2 hypoglycaemia (ADA), treat now",
            mmol_l,
            r,
        )
    if mmol_l < GLUCOSE_HYPO_LEVEL1_MMOL_L:
        return Judgement(
            True,
            "medium",
            "glucose.hypo_level1",
            f"glucose {mmol_l:.1f} mmol/L{ctx} < {GLUCOSE_HYPO_LEVEL1_MMOL_L}: "
            "level 1 hypoglycaemia (ADA)",
            mmol_l,
            r,
        )
    if mmol_l >= GLUCOSE_HHS_MMOL_L:
        return Judgement(
            True,
            "critical",
            "glucose.hhs_range",
            f"glucose {mmol_l:.1f} mmol/L{ctx} >= {GLUCOSE_HHS_MMOL_L}: "
            "hyperosmolar-range hyperglycaemia (ADA consensus 2024)",
            mmol_l,
            r,
        )
    if mmol_l >= GLUCOSE_KETONE_RISK_MMOL_L:
        return Judgement(
            True,
            "high",
            "glucose.ketone_risk",
            f"glucose {mmol_l:.1f} mmol/L{ctx} >= {GLUCOSE_KETONE_RISK_MMOL_L}: "
            "check ketones, contact the diabetes team",
            mmol_l,
            r,
        )
    if mmol_l > GLUCOSE_HYPER_LEVEL2_MMOL_L:
        return Judgement(
            True,
            "medium",
            "glucose.hyper_level2",
            f"glucose {mmol_l:.1f} mmol/L{ctx} > {GLUCOSE_HYPER_LEVEL2_MMOL_L}: "
            "level 2 hyperglycaemia (ADA)",
            mmol_l,
            r,
        )
    return Judgement(False, None, NO_ALERT, f"glucose {mmol_l:.1f} mmol/L{ctx} in range", mmol_l, r)


def judge_blood_pressure(systolic: float, diastolic: float, ts_s: float) -> Judgement:
    """Hypertensive crisis (ACC/AHA 2017, alerting at >= 180 or >= 120)."""
    r = (
        _reading("blood_pressure", "systolic", systolic, ts_s, "mmHg"),
        _reading("blood_pressure", "diastolic", diastolic, ts_s, "mmHg"),
    )
    if systolic >= BP_CRISIS_SYSTOLIC_MMHG or diastolic >= BP_CRISIS_DIASTOLIC_MMHG:
        return Judgement(
            True,
            "high",
            "bp.hypertensive_crisis",
            f"blood pressure {systolic:.0f}/{diastolic:.0f} mmHg: hypertensive crisis range "
            f"(>= {BP_CRISIS_SYSTOLIC_MMHG:.0f} or >= {BP_CRISIS_DIASTOLIC_MMHG:.0f}); "
            "check for chest pain, breathlessness, headache, confusion, weakness",
            systolic,
            r,
        )
    return Judgement(
        False, None, NO_ALERT, f"blood pressure {systolic:.0f}/{diastolic:.0f} mmHg", systolic, r
    )


def kit_news2_readings(
    kit_kind: str, values: Mapping[str, float], ts_s: float, source: str = "kit"
) -> list[Reading]:
    """The NEWS2 readings a kit measurement contributes."""
    out = []
    for name, v in values.items():
        p = NEWS2_PARAMETER_BY_VALUE.get((kit_kind, name))
        if p is not None:
            out.append(Reading(p, float(v), ts_s, source))
    return out


def judge_news2(
    readings: Iterable[Reading],
    *,
    now_s: float,
    window_s: float = news2.DEFAULT_WINDOW_S,
    spo2_scale: int = 1,
    on_oxygen: bool | None = None,
) -> Judgement:
    """Aggregate NEWS2 over the window and map its response band to a judgement."""
    res = news2.aggregate(
        readings, now_s=now_s, window_s=window_s, spo2_scale=spo2_scale, on_oxygen=on_oxygen
    )
    used = tuple(
        {"kind": r.parameter, "value": r.value, "ts": r.ts_s, "source": r.source}
        for r in res.readings
    )
    partial = "" if res.complete else f"; not scored (taken as normal): {', '.join(res.missing)}"
    reason = f"NEWS2 {res.total} ({res.band.replace('_', '-')} response, RCP 2017){partial}"
    return Judgement(
        alert=res.severity is not None,
        severity=res.severity,
        rule_id=f"news2.{res.band}",
        reason=reason,
        score=float(res.total),
        readings=used,
        extra={
            "news2": {
                "total": res.total,
                "band": res.band,
                "subscores": res.subscores,
                "missing": list(res.missing),
                "spo2_scale": res.spo2_scale,
                "complete": res.complete,
            }
        },
    )


def _implausible(kit_kind: str, values: Mapping[str, float], ts_s: float) -> Judgement | None:
    bad = [
        (n, v)
        for n, v in values.items()
        if n in PLAUSIBLE and not (PLAUSIBLE[n][0] <= float(v) <= PLAUSIBLE[n][1])
    ]
    if (
        kit_kind == "blood_pressure"
        and {"systolic", "diastolic"} <= values.keys()
        and float(values["diastolic"]) >= float(values["systolic"])
    ):
        bad.append(("diastolic>=systolic", float(values["diastolic"])))
    if not bad:
        return None
    what = ", ".join(f"{n}={v:g}" for n, v in bad)
    return Judgement(
        False,
        None,
        "kit.implausible",
        f"{kit_kind} reading not physiologically plausible ({what}): repeat the measurement",
        None,
        tuple({"kind": kit_kind, "name": n, "value": float(v), "ts": ts_s} for n, v in bad),
    )


def judge_kit(
    kit_kind: str,
    values: Mapping[str, float],
    *,
    ts_s: float,
    context: str | None = None,
    recent: Iterable[Reading] = (),
    spo2_scale: int = 1,
    on_oxygen: bool | None = None,
    news2_window_s: float = news2.DEFAULT_WINDOW_S,
) -> Judgement:
    """Judge one kit reading (``KitEvent.kit_kind``, ``.values``, ``.context``, ``env.ts``).

    ``recent``: the resident's other NEWS2 readings (kit and radar) so NEWS2 aggregates over
    the window; this reading's own contributions are added here. The most severe rule wins;
    all fired rules are listed in ``rules``.
    """
    bad = _implausible(kit_kind, values, ts_s)
    if bad is not None:
        return bad
    fired: list[Judgement] = []
    if kit_kind == "glucose" and "mmol_l" in values:
        fired.append(judge_glucose(float(values["mmol_l"]), ts_s, context))
    if kit_kind == "blood_pressure" and {"systolic", "diastolic"} <= values.keys():
        fired.append(
            judge_blood_pressure(float(values["systolic"]), float(values["diastolic"]), ts_s)
        )
    own = kit_news2_readings(kit_kind, values, ts_s)
    if own:
        fired.append(
            judge_news2(
                [*recent, *own],
                now_s=ts_s,
                window_s=news2_window_s,
                spo2_scale=spo2_scale,
                on_oxygen=on_oxygen,
            )
        )
    if not fired:
        return Judgement(False, None, NO_ALERT, f"no rule for {kit_kind}", None)
    fired.sort(key=lambda j: SEVERITY_RANK[j.severity], reverse=True)
    top = fired[0]
    alerts = tuple(j for j in fired if j.alert)
    extra: dict[str, Any] = {}
    for j in fired:
        extra.update(j.extra)
    readings = tuple(
        {r["kind"] + "." + str(r.get("name", "")): r for j in fired for r in j.readings}.values()
    )
    return Judgement(
        alert=top.alert,
        severity=top.severity,
        rule_id=top.rule_id,
        reason="; ".join(j.reason for j in alerts) if alerts else top.reason,
        score=top.score,
        readings=readings,
        rules=alerts,
        extra=extra,
    )
