"""GB/T 42195-2022 老年人能力评估规范 (Assessment specifications for older adults): 26 items in
four first-level indicators, total 0-90, five ability levels, and the standard's adjustments.

Source: GB/T 42195-2022, State Administration for Market Regulation / Standardization
Administration of China, 2022-12-30; item tables in Annex B (B.1 自理能力, B.2 基础运动能力,
B.3 精神状态, B.4 感知觉与社会参与) and the level table and adjustments in its clause on results.
Implemented from our reading of the published text; docs/care-records.md lists what we are sure of
and what to check against the standard's own text (clause numbers, the exact adjustment wording).

Items and their maximum points (each answered 0..max in whole points):
- 自理能力 self-care (32): eating, grooming, bathing, dressing upper body, dressing lower body
  (trousers, shoes, socks), urine control, bowel control, toileting: 4 each.
- 基础运动能力 basic mobility (15): bed mobility 4, bed-chair transfer 4, walking on level ground 4,
  stairs 3.
- 精神状态 mental state (28): orientation to time, place and person, memory, comprehension,
  expression 4 each; aggressive behaviour 1 and depressive symptoms 1 (1 = none in the last
  month); level of consciousness 2 (clear 2, drowsy or confused 1, stupor or coma 0).
- 感知觉与社会参与 perception and social participation (15): vision 2, hearing 2, daily affairs 4,
  going out by transport 3, social interaction 4.

Levels by total: 90 能力完好 intact; 66-89 能力轻度受损 (轻度失能) mild; 46-65 能力中度受损
(中度失能) moderate; 30-45 能力重度受损 (重度失能) severe; 0-29 能力完全丧失 (完全失能) complete.
Adjustments: a person in a coma is rated complete loss whatever the total; a diagnosis of
dementia (ICD-10 F00-F03) or of another mental and behavioural disorder (F04-F99), or two or more
care risk events (falls, wandering, choking, suicide or self-harm, other) in the last 30 days,
raises the level by one (once, however many apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from care_records.scales._items import (
    Item,
    ScaleError,
    ScaleResult,
    max_total,
    subtotals,
    upto,
    validate,
)

SCALE = "gbt42195"
SELF_CARE, MOBILITY, MENTAL, PERCEPTION = "self_care", "mobility", "mental", "perception_social"
ITEMS: tuple[Item, ...] = (
    # B.1 自理能力
    upto("eating", SELF_CARE, 4),
    upto("grooming", SELF_CARE, 4),
    upto("bathing", SELF_CARE, 4),
    upto("dressing_upper", SELF_CARE, 4),
    upto("dressing_lower", SELF_CARE, 4),
    upto("urine_control", SELF_CARE, 4),
    upto("bowel_control", SELF_CARE, 4),
    upto("toileting", SELF_CARE, 4),
    # B.2 基础运动能力
    upto("bed_mobility", MOBILITY, 4),
    upto("bed_chair_transfer", MOBILITY, 4),
    upto("walking", MOBILITY, 4),
    upto("stairs", MOBILITY, 3),
    # B.3 精神状态
    upto("time_orientation", MENTAL, 4),
    upto("place_orientation", MENTAL, 4),
    upto("person_orientation", MENTAL, 4),
    upto("memory", MENTAL, 4),
    upto("comprehension", MENTAL, 4),
    upto("expression", MENTAL, 4),
    upto("aggression", MENTAL, 1),
    upto("depression", MENTAL, 1),
    upto("consciousness", MENTAL, 2),
    # B.4 感知觉与社会参与
    upto("vision", PERCEPTION, 2),
    upto("hearing", PERCEPTION, 2),
    upto("daily_affairs", PERCEPTION, 4),
    upto("transport", PERCEPTION, 3),
    upto("social", PERCEPTION, 4),
)
# Lowest total of each level, best first.
LEVELS: tuple[tuple[int, str], ...] = (
    (90, "intact"),
    (66, "mild"),
    (46, "moderate"),
    (30, "severe"),
    (0, "complete"),
)
LEVEL_ORDER = tuple(name for _, name in LEVELS)
RISK_EVENTS_RAISE_AT = 2  # care risk events in the last 30 days that raise the level by one


def level_of(total: int) -> str:
    return next(name for low, name in LEVELS if total >= low)


def worse(level: str, steps: int = 1) -> str:
    return LEVEL_ORDER[min(LEVEL_ORDER.index(level) + steps, len(LEVEL_ORDER) - 1)]


def _flag(context: Mapping[str, Any], key: str) -> bool:
    value = context.get(key, False)
    if not isinstance(value, bool):
        raise ScaleError(f"context.{key} must be true or false")
    return value


def score(answers: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> ScaleResult:
    """Total, first-level sub-scores, the preliminary level from the total and the final level
    after the standard's adjustments.

    Context (all optional): `coma` (bool; only with consciousness 0), `dementia` (F00-F03),
    `mental_disorder` (F04-F99), `risk_events_30d` (count of care risk events in 30 days).
    """
    ctx = context or {}
    clean = validate(ITEMS, answers)
    total = sum(clean.values())
    preliminary = level_of(total)
    coma = _flag(ctx, "coma")
    if coma and clean["consciousness"] != 0:
        raise ScaleError("context.coma needs consciousness 0 (stupor or coma)")
    risk_events = ctx.get("risk_events_30d", 0)
    if isinstance(risk_events, bool) or not isinstance(risk_events, int) or risk_events < 0:
        raise ScaleError("context.risk_events_30d must be a count (0 or more)")
    reasons = [
        name
        for name, applies in (
            ("dementia", _flag(ctx, "dementia")),
            ("mental_disorder", _flag(ctx, "mental_disorder")),
            ("risk_events", risk_events >= RISK_EVENTS_RAISE_AT),
        )
        if applies
    ]
    if coma:
        final, reasons = "complete", ["coma"]
    else:
        final = worse(preliminary) if reasons else preliminary
    return ScaleResult(
        scale=SCALE,
        total=total,
        max_total=max_total(ITEMS),
        subscores=subtotals(ITEMS, clean),
        level=final,
        detail={"preliminary_level": preliminary, "adjustments": reasons},
    )
