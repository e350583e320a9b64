"""What every scale shares: item definitions, answer validation and the scored result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class ScaleError(ValueError):
    """Answers that the scale's published form does not allow (missing, unknown or out of range)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One item of a scale: its key, the answers the form allows, and the domain it scores into.

    `allowed` lists every permitted value (Barthel's 0/5/10/15 steps are not a range). Items whose
    answer is a raw count (MoCA's letter-tapping errors, words named in a minute, correct serial-7
    subtractions) list the counts allowed; the scale module turns them into points by its rule.
    """

    key: str
    allowed: tuple[int, ...]
    domain: str

    @property
    def max_points(self) -> int:
        return max(self.allowed)


def item(key: str, domain: str, *allowed: int) -> Item:
    return Item(key, tuple(allowed), domain)


def upto(key: str, domain: str, top: int) -> Item:
    """An item scored 0..top in steps of 1."""
    return Item(key, tuple(range(top + 1)), domain)


@dataclass(frozen=True, slots=True)
class ScaleResult:
    """A scale's outcome, computed from item answers only (never typed in)."""

    scale: str
    total: int
    max_total: int
    subscores: dict[str, int]
    level: str  # a catalogue key suffix: care.level.<scale>.<level>
    positive: bool | None = None  # screens: the published cut-off says "look further"
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "total": self.total,
            "max_total": self.max_total,
            "subscores": dict(self.subscores),
            "level": self.level,
            "positive": self.positive,
            "detail": dict(self.detail),
        }


def validate(items: tuple[Item, ...], answers: Mapping[str, Any]) -> dict[str, int]:
    """Every item answered once with an allowed whole number; nothing else. Returns clean answers."""
    if not isinstance(answers, Mapping):
        raise ScaleError("answers must be an object of item -> points")
    known = {i.key for i in items}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise ScaleError(f"unknown item(s): {', '.join(map(str, unknown))}")
    clean: dict[str, int] = {}
    for i in items:
        if i.key not in answers:
            raise ScaleError(f"item {i.key} is not answered")
        value = answers[i.key]
        # bool is an int in Python; True is not an answer of any form.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScaleError(f"item {i.key}: a whole number is expected, got {value!r}")
        if value not in i.allowed:
            raise ScaleError(f"item {i.key}: {value} is not one of {list(i.allowed)}")
        clean[i.key] = value
    return clean


def subtotals(items: tuple[Item, ...], answers: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i.domain] = out.get(i.domain, 0) + answers[i.key]
    return out


def max_total(items: tuple[Item, ...]) -> int:
    return sum(i.max_points for i in items)


def education_years(context: Mapping[str, Any] | None) -> int:
    """Years of formal schooling, a required context for education-adjusted scales."""
    value = (context or {}).get("education_years")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 30:
        raise ScaleError("context.education_years (0-30, whole years of schooling) is required")
    return value
