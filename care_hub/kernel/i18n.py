"""Words a person reads, in zh-CN and English: one catalogue per language, shared with the pages.

One catalogue per language: `care_hub/locales/<lang>/*.json`, one file per area of the product
(`core.json`, `wall.json`, `care.json`, ...), merged (a key defined twice is an error); flat
`key -> text` with `{name}` placeholders. The pages load the merged catalogue from
`/locales/<lang>.json`. zh-CN is first: the product's users are Chinese care homes; English is
the second language, and the fallback for a missing key.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
FALLBACK_LANGUAGE = "en"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@cache
def catalogue(lang: str) -> dict[str, str]:
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; one of {', '.join(LANGUAGES)}")
    merged: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.json")):
        for key, text in json.loads(path.read_text(encoding="utf-8")).items():
            if key in merged:
                raise ValueError(f"{lang}: key {key!r} is defined twice (again in {path.name})")
            merged[str(key)] = str(text)
    return merged


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def pick_language(accept_language: str | None) -> str:
    """The best of our languages for an HTTP Accept-Language header (zh-* -> zh-CN)."""
    if accept_language:
        for part in accept_language.split(","):
            tag = part.split(";")[0].strip().lower()
            if tag.startswith("zh"):
                return "zh-CN"
            if tag.startswith("en"):
                return "en"
    return DEFAULT_LANGUAGE


def translate(key: str, lang: str = DEFAULT_LANGUAGE, **params: Any) -> str:
    """The text for `key` in `lang` (English if missing there, the key itself if missing in both),
    with `{name}` placeholders filled from `params`."""
    text = catalogue(lang).get(key) or catalogue(FALLBACK_LANGUAGE).get(key) or key
    return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), text)
