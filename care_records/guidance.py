"""Guidance rules: one readable table, each rule a pure function over plain facts.

A rule that fires returns its evidence (the numbers it judged); staff accept or dismiss each
suggestion (`service.decide_guidance`), and only an accepted one changes anything: never a
silent change. Thresholds are named constants; where a threshold is our own choice rather than a
published figure, the constant says so (docs/care-records.md, "Guidance rules").

| rule | fires when | suggests | sources |
| --- | --- | --- | --- |
| fall_risk.high | GB/T 42195 level moderate or worse; or Morse >= 45; or >= 2 night bed exits on each of the last 7 nights | night bed-exit alerts, night checks every 2 h, a floor mat | Morse 1989; GB/T 42195-2022; NICE CG161 (2013) |
| cognition.positive_screen | the latest AD8 (>= 2), MMSE (<= education cut-off) or MoCA (< 26) is positive | refer for a full assessment; wandering (door zone) alerts | Galvin 2005; Zhang 1990; Nasreddine 2005 |
| vitals.resting_rate_rising | resting breathing (>= +3/min) or heart rate (>= +10/min) over the last 7 days, median, above the resident's baseline of the 21 days before | clinical review | Cretikos 2008; Radin 2020 |
| continence.night_bathroom_doubled | night bathroom visits this week >= 2x last week and >= 2 a night | check for a urinary infection | Rantz 2011 |
| mobility.less_time_up | daily time out of bed this week <= 80% of last week's and >= 1 h less | mobility review | Skubic 2015 |
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from care_records.scales import gbt42195, morse

# --- facts: what the rules read (built by care_records.evidence from records and the trail) ---


@dataclass(frozen=True, slots=True)
class Screen:
    """The latest result of one cognitive screen."""

    scale: str
    assessment_id: int
    total: int
    positive: bool
    assessed_at: float


@dataclass(frozen=True, slots=True)
class ResidentFacts:
    """Plain data about one resident. Per-night and per-day series are oldest first and hold only
    nights/days the sensors covered (a night without data is left out, not counted as zero)."""

    ability_level: str | None = None  # latest GB/T 42195 level
    ability_assessment_id: int | None = None
    morse_total: int | None = None
    morse_assessment_id: int | None = None
    screens: tuple[Screen, ...] = ()
    night_bed_exits: tuple[int, ...] = ()  # the last 7 nights
    night_bathroom_this_week: tuple[int, ...] = ()
    night_bathroom_last_week: tuple[int, ...] = ()
    resting_breathing_week: tuple[float, ...] = ()  # daily medians, last 7 days, /min
    resting_breathing_baseline: tuple[float, ...] = ()  # daily medians, the 21 days before
    resting_heart_week: tuple[float, ...] = ()
    resting_heart_baseline: tuple[float, ...] = ()
    out_of_bed_h_this_week: tuple[float, ...] = ()  # hours a day
    out_of_bed_h_last_week: tuple[float, ...] = ()


# --- thresholds -----------------------------------------------------------------------------

# GB/T 42195 levels at which we suggest the fall plan. The standard grades ability, not fall
# risk; moderate impairment or worse means help is needed to move (our reading; check locally).
FALL_RISK_LEVELS = gbt42195.LEVEL_ORDER[gbt42195.LEVEL_ORDER.index("moderate") :]
FALL_RISK_MORSE = morse.HIGH_AT  # Morse 1989: >= 45 high risk
# Two or more bed exits on each of 7 nights: a sustained pattern, not one bad night (our choice).
NIGHT_EXITS_PER_NIGHT = 2
NIGHTS_NEEDED = 7
# Resting-rate rise against the resident's own baseline (our choices, to be tuned on real data):
# +3 breaths/min is a quarter of a normal resting rate of 12-20 and below a NEWS2 band change;
# +10 beats/min is the size of rise reported before infections in wearable studies (Radin 2020).
BREATHING_RISE_PER_MIN = 3.0
HEART_RISE_PER_MIN = 10.0
WEEK_DAYS_NEEDED = 5  # of 7 days with data
BASELINE_DAYS_NEEDED = 7  # of 21 days with data
# Night bathroom visits: doubling, from at least 2 a night (nocturia of 2 or more a night is the
# usual clinically relevant level; doubling from 0.5 to 1 is noise).
BATHROOM_RATIO = 2.0
BATHROOM_MIN_PER_NIGHT = 2.0
# Time out of bed: down to 80% of last week's or less, and by an hour or more (our choices).
OUT_OF_BED_RATIO = 0.8
OUT_OF_BED_MIN_DROP_H = 1.0


def _mean(values: tuple[float, ...] | tuple[int, ...]) -> float:
    return float(statistics.fmean(values))


# --- the rules ------------------------------------------------------------------------------

Evidence = dict[str, Any]


def fall_risk_high(f: ResidentFacts) -> Evidence | None:
    reasons: list[str] = []
    ev: Evidence = {}
    if f.ability_level in FALL_RISK_LEVELS:
        reasons.append("ability_level")
        ev["ability_level"] = f.ability_level
        ev["ability_assessment_id"] = f.ability_assessment_id
    if f.morse_total is not None and f.morse_total >= FALL_RISK_MORSE:
        reasons.append("morse_high")
        ev["morse_total"] = f.morse_total
        ev["morse_assessment_id"] = f.morse_assessment_id
    exits = f.night_bed_exits[-NIGHTS_NEEDED:]
    if len(exits) >= NIGHTS_NEEDED and min(exits) >= NIGHT_EXITS_PER_NIGHT:
        reasons.append("night_bed_exits")
        ev["night_bed_exits"] = list(exits)
    if not reasons:
        return None
    return {"reasons": reasons, **ev}


def cognition_positive_screen(f: ResidentFacts) -> Evidence | None:
    positive = [s for s in f.screens if s.positive]
    if not positive:
        return None
    return {
        "screens": [
            {
                "scale": s.scale,
                "total": s.total,
                "assessment_id": s.assessment_id,
                "assessed_at": s.assessed_at,
            }
            for s in positive
        ]
    }


def _rise(week: tuple[float, ...], baseline: tuple[float, ...]) -> tuple[float, float] | None:
    if len(week) < WEEK_DAYS_NEEDED or len(baseline) < BASELINE_DAYS_NEEDED:
        return None
    return float(statistics.median(week)), float(statistics.median(baseline))


def resting_rate_rising(f: ResidentFacts) -> Evidence | None:
    ev: Evidence = {}
    for name, week, base, rise in (
        (
            "breathing",
            f.resting_breathing_week,
            f.resting_breathing_baseline,
            BREATHING_RISE_PER_MIN,
        ),
        ("heart", f.resting_heart_week, f.resting_heart_baseline, HEART_RISE_PER_MIN),
    ):
        medians = _rise(week, base)
        if medians is not None and medians[0] - medians[1] >= rise:
            ev[name] = {
                "week_median": round(medians[0], 1),
                "baseline_median": round(medians[1], 1),
                "rise": round(medians[0] - medians[1], 1),
                "threshold": rise,
            }
    return ev or None


def night_bathroom_doubled(f: ResidentFacts) -> Evidence | None:
    this, last = f.night_bathroom_this_week, f.night_bathroom_last_week
    if len(this) < WEEK_DAYS_NEEDED or len(last) < WEEK_DAYS_NEEDED:
        return None
    now, before = _mean(this), _mean(last)
    if now < BATHROOM_MIN_PER_NIGHT or now < BATHROOM_RATIO * before:
        return None
    return {"this_week_per_night": round(now, 2), "last_week_per_night": round(before, 2)}


def less_time_out_of_bed(f: ResidentFacts) -> Evidence | None:
    this, last = f.out_of_bed_h_this_week, f.out_of_bed_h_last_week
    if len(this) < WEEK_DAYS_NEEDED or len(last) < WEEK_DAYS_NEEDED:
        return None
    now, before = _mean(this), _mean(last)
    if before - now < OUT_OF_BED_MIN_DROP_H or now > OUT_OF_BED_RATIO * before:
        return None
    return {"this_week_h_per_day": round(now, 2), "last_week_h_per_day": round(before, 2)}


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One guidance rule: its id (catalogue key `care.guidance.<id>`), its test, what accepting it
    does, and the sources it rests on."""

    id: str
    fires: Callable[[ResidentFacts], Evidence | None]
    sources: tuple[str, ...]
    # What accepting does: resident flags to set and tasks to add to the plan (plain data).
    set_resident: dict[str, Any] = field(default_factory=dict)
    add_tasks: tuple[dict[str, Any], ...] = ()


RULES: tuple[Rule, ...] = (
    Rule(
        "fall_risk.high",
        fall_risk_high,
        (
            "Morse JM, Morse RM, Tylko SJ. Can J Aging 1989;8:366-377",
            "GB/T 42195-2022 老年人能力评估规范",
            "NICE CG161 Falls in older people (2013): multifactorial intervention",
        ),
        # at_risk_wandering turns on night bed-exit (and door) alerts for the resident's radar.
        set_resident={"at_risk_wandering": True},
        add_tasks=(
            {
                "kind": "night_check",
                "recurrence": "every_hours",
                "interval_h": 2.0,
                "shifts": ["night"],
            },
            {"kind": "floor_mat", "recurrence": "per_shift", "shift": "night"},
        ),
    ),
    Rule(
        "cognition.positive_screen",
        cognition_positive_screen,
        (
            "Galvin JE et al. Neurology 2005;65:559-564 (AD8)",
            "Zhang MY et al. Ann Neurol 1990;27:428-437 (MMSE cut-offs)",
            "Nasreddine ZS et al. J Am Geriatr Soc 2005;53:695-699 (MoCA)",
        ),
        set_resident={"at_risk_wandering": True},
    ),
    Rule(
        "vitals.resting_rate_rising",
        resting_rate_rising,
        (
            "Cretikos MA et al. Respiratory rate: the neglected vital sign. Med J Aust "
            "2008;188:657-659",
            "Radin JM et al. Lancet Digit Health 2020;2:e85-e93 (resting heart rate above "
            "personal baseline)",
        ),
    ),
    Rule(
        "continence.night_bathroom_doubled",
        night_bathroom_doubled,
        (
            "Rantz MJ, Skubic M, et al. Using sensor networks to detect urinary tract infections "
            "in older adults. IEEE Healthcom 2011:142-149",
        ),
    ),
    Rule(
        "mobility.less_time_up",
        less_time_out_of_bed,
        (
            "Skubic M, Guevara RD, Rantz M. Automated health alerts using in-home sensor data "
            "for embedded health assessment. IEEE J Transl Eng Health Med 2015;3:2700111",
        ),
    ),
)
RULES_BY_ID = {r.id: r for r in RULES}


@dataclass(frozen=True, slots=True)
class Suggestion:
    rule_id: str
    evidence: Evidence


def evaluate(facts: ResidentFacts) -> list[Suggestion]:
    """Every rule that fires on these facts, in table order."""
    out = []
    for rule in RULES:
        evidence = rule.fires(facts)
        if evidence is not None:
            out.append(Suggestion(rule.id, evidence))
    return out
