"""Assessment scales: pure scoring of item answers by each scale's published rules.

One module per scale; `score(scale, answers, context)` dispatches. Nothing here reads a
database or formats text: labels come from the language catalogue (`care.scale.*`, `care.item.*`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from care_records.scales import ad8, barthel, gbt42195, mmse, moca, morse
from care_records.scales._items import Item, ScaleError, ScaleResult

__all__ = ["SCALES", "Item", "ScaleError", "ScaleResult", "items_of", "max_total_of", "score"]

SCALES: dict[str, ModuleType] = {m.SCALE: m for m in (gbt42195, barthel, ad8, mmse, moca, morse)}
# Scales whose result is a cognitive screen (positive = refer for a full assessment).
COGNITIVE_SCREENS = ("ad8", "mmse", "moca")
# Scales that need context.education_years.
NEEDS_EDUCATION = ("mmse", "moca")


def _module(scale: str) -> ModuleType:
    module = SCALES.get(scale)
    if module is None:
        raise ScaleError(f"unknown scale {scale!r}; one of {', '.join(SCALES)}")
    return module


def items_of(scale: str) -> tuple[Item, ...]:
    items: tuple[Item, ...] = _module(scale).ITEMS
    return items


def max_total_of(scale: str) -> int:
    """The highest total a scale can give (MoCA's raw counts are not points: 30)."""
    module = _module(scale)
    top = getattr(module, "MAX_TOTAL", None)
    return int(top) if top is not None else sum(i.max_points for i in module.ITEMS)


def score(
    scale: str, answers: Mapping[str, Any], context: Mapping[str, Any] | None = None
) -> ScaleResult:
    scorer: Callable[..., ScaleResult] = _module(scale).score
    return scorer(answers, context)
