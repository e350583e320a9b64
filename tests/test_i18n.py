"""The language catalogues: the same keys in every language, the same placeholders in each text."""

from __future__ import annotations

from pathlib import Path

import pytest

from care_hub.kernel import i18n


def test_every_language_has_every_key_with_the_same_placeholders() -> None:
    reference = i18n.catalogue(i18n.FALLBACK_LANGUAGE)
    for lang in i18n.LANGUAGES:
        cat = i18n.catalogue(lang)
        assert set(cat) == set(reference), f"{lang}: keys differ: {set(cat) ^ set(reference)}"
        for key, text in cat.items():
            assert text.strip(), f"{lang}:{key} is empty"
            assert i18n.placeholders(text) == i18n.placeholders(reference[key]), f"{lang}:{key}"


def test_chinese_catalogue_is_chinese() -> None:
    cat = i18n.catalogue("zh-CN")
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in cat.values())


def test_translate_fills_placeholders_and_falls_back() -> None:
    assert i18n.translate("system.ingest_stalled.since", "zh-CN", time="14:05") == "开始于 14:05。"
    assert i18n.translate("system.ingest_stalled.since", "en", time="14:05") == "Since 14:05."
    assert i18n.translate("no.such.key", "zh-CN") == "no.such.key"
    with pytest.raises(ValueError):
        i18n.catalogue("fr")


@pytest.mark.parametrize(
    ("header", "lang"),
    [("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("zh-TW", "zh-CN"), ("en-GB,en;q=0.9", "en"),
     ("fr-FR", "zh-CN"), (None, "zh-CN")],
)
def test_language_from_the_browser(header: str | None, lang: str) -> None:
    assert i18n.pick_language(header) == lang


async def test_the_pages_get_the_merged_catalogue(tmp_path: Path) -> None:
    import httpx

    from care_hub.kernel.settings import Settings
    from care_hub.main import create_app

    app = create_app(Settings(_env_file=None, environment="test", data_dir=tmp_path))  # type: ignore[call-arg]
    # No lifespan (no hub): the catalogue is served without one.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        r = await client.get("/locales/zh-CN.json")
        assert r.status_code == 200 and r.json() == i18n.catalogue("zh-CN")
        assert (await client.get("/locales/fr.json")).status_code == 404


def test_no_catalogue_file_lies_outside_a_language_folder() -> None:
    stray = sorted(p.name for p in i18n.LOCALES_DIR.glob("*.json"))
    assert stray == [], (
        f"{stray}: put keys in care_hub/locales/<lang>/<area>.json (e.g. zh-CN/care.json)"
    )
