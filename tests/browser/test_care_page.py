"""The care page (/care, issue 16) in a real browser, in zh-CN (the default) and English: a
caregiver sees a resident's plan, tasks and guidance, records a task done, and the record is
there after a reload; a family member is turned away, and a family token shows no resident."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from care_hub.kernel import i18n
from tests.browser.conftest import Site, shot
from tests.conftest import PASSWORD

# A Morse total of 50 is "high" (>= 45, Morse 1989), which the guidance rule fall_risk.high reads.
MORSE_HIGH = {
    "history_of_falling": 25,
    "secondary_diagnosis": 0,
    "ambulatory_aid": 15,
    "iv_or_heparin_lock": 0,
    "gait": 10,
    "mental_status": 0,
}
# The browser's own language: "fr-FR" is neither zh nor en, so the page must fall back to zh-CN.
BROWSER_LOCALE = {"zh-CN": "fr-FR", "en": "en-GB"}
SUMMARY = {"zh-CN": "扶行，夜间防跌倒", "en": "Walks with help; prevent falls at night"}


def _words(lang: str) -> Any:
    catalogue = i18n.catalogue(lang)

    def t(key: str, **params: Any) -> str:
        text = catalogue[key]  # a KeyError here is a missing word, a failure worth seeing
        for name, value in params.items():
            text = text.replace(f"{{{name}}}", str(value))
        return text

    return t


def _prepare(site: Site, lang: str) -> int:
    """R-1 gets a plan summary, a night check every 2 h, and a Morse assessment whose high score
    makes the guidance rules suggest fall precautions. Returns the task's id."""
    nurse = site.server.token("nurse")
    site.api("PUT", "/api/care/residents/R-1/plan", nurse, json={"summary": SUMMARY[lang]})
    task = site.api(
        "POST",
        "/api/care/residents/R-1/plan/tasks",
        nurse,
        json={"kind": "night_check", "recurrence": "every_hours", "interval_h": 2},
    )
    site.api(
        "POST",
        "/api/care/residents/R-1/assessments",
        nurse,
        json={"scale": "morse", "items": MORSE_HIGH},
    )
    return int(task["id"])


def _sign_in(page: Any, site: Site, username: str) -> None:
    page.goto(f"{site.url}/care")
    page.wait_for_selector("#login-form", state="visible")
    page.fill("#login-form input[name=username]", username)
    page.fill("#login-form input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")


def _open_resident(page: Any, name: str) -> None:
    page.locator("#residents tr.row", has_text=name).click()
    page.wait_for_selector("#detail", state="visible")
    # One pass fills guidance, plan and tasks: guidance always gets a child (a card or "none").
    page.wait_for_selector("#guidance > *")


def _shown_time(page: Any, lang: str, ts: float) -> str:
    """A time as the page formats it (the browser's own locale rules and time zone)."""
    return str(
        page.evaluate(
            """([lang, ts]) => new Date(ts * 1000).toLocaleString(lang,
                 { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" })""",
            [lang, ts],
        )
    )


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_caregiver_sees_plan_and_guidance_records_a_task_done_and_it_persists(
    site: Site, browser: Any, artifacts: Path, lang: str
) -> None:
    t = _words(lang)
    task_id = _prepare(site, lang)
    context = browser.new_context(
        viewport={"width": 1280, "height": 1000}, locale=BROWSER_LOCALE[lang]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_in(page, site, "nurse")
    page.wait_for_selector("#residents tr.row")
    assert page.get_attribute("html", "lang") == lang
    assert page.inner_text("header .brand") == t("care.ui.title")
    row = page.locator("#residents tr.row", has_text="Resident 1")
    assert SUMMARY[lang] in row.inner_text()

    _open_resident(page, "Resident 1")
    assert "Resident 1" in page.inner_text("#detail-name")
    assert page.input_value("#plan-form textarea[name=summary]") == SUMMARY[lang]
    guidance = page.locator("#guidance")
    guidance.get_by_text(t("care.guidance.fall_risk.high.title")).wait_for()
    assert t("care.guidance.state.suggested") in guidance.inner_text()
    assert t("care.guidance.fall_risk.high.text") in guidance.inner_text()

    task = page.locator("#tasks tr", has_text=t("care.task.night_check"))
    assert task.count() == 1
    assert t("care.recurrence.every_hours", n=2) in task.inner_text()
    last_done = task.locator("td").nth(2)
    assert last_done.inner_text() == "—"

    task.get_by_role("button", name=t("care.ui.done"), exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#tasks tr td:nth-child(3)').textContent !== '—'",
        timeout=10_000,
    )
    nurse = site.server.token("nurse")
    stored = site.api("GET", "/api/care/residents/R-1/plan", nurse)["tasks"]
    assert [(k["id"], k["last_done_at"] is not None) for k in stored] == [(task_id, True)]
    done_at = stored[0]["last_done_at"]
    assert last_done.inner_text() == _shown_time(page, lang, done_at)
    audit = site.api("GET", "/api/care/residents/R-1/audit", nurse)
    completed = [a for a in audit if a["action"] == "task.completed"]
    assert [(a["actor"], a["data"]) for a in completed] == [
        ("nurse", {"task_id": task_id, "outcome": "done"})
    ]
    shot(page, artifacts, f"care-{lang}")

    # A reload keeps the sign-in (this tab's session); the record comes back from the hub.
    page.reload()
    page.wait_for_selector("#residents tr.row")
    _open_resident(page, "Resident 1")
    task = page.locator("#tasks tr", has_text=t("care.task.night_check"))
    task.wait_for()
    assert task.locator("td").nth(2).inner_text() == _shown_time(page, lang, done_at)
    assert errors == []
    context.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_family_member_cannot_open_the_care_page(
    site: Site, browser: Any, artifacts: Path, lang: str
) -> None:
    t = _words(lang)
    _prepare(site, lang)
    context = browser.new_context(
        viewport={"width": 414, "height": 896}, locale=BROWSER_LOCALE[lang]
    )
    page = context.new_page()
    _sign_in(page, site, "family")
    error = page.locator("#login-error")
    page.wait_for_function("() => document.querySelector('#login-error').textContent !== ''")
    assert error.inner_text() == i18n.translate("ui.signin.wrong_role", lang)
    assert page.is_hidden("#app")
    assert page.evaluate("() => sessionStorage.getItem('care-hub.token')") is None
    shot(page, artifacts, f"care-family-refused-{lang}")

    # Past the page's own check (a family token put in by hand), the hub still shows nothing.
    token = site.server.token("family")
    page.evaluate(
        """(token) => {
             sessionStorage.setItem('care-hub.token', token);
             sessionStorage.setItem('care-hub.user', JSON.stringify({ role: 'family' }));
           }""",
        token,
    )
    page.reload()
    page.wait_for_function("() => document.querySelector('#error').textContent !== ''")
    assert page.locator("#residents tr").count() == 0
    assert "Resident 1" not in page.inner_text("body")
    assert SUMMARY[lang] not in page.inner_text("body")
    assert t("care.ui.error", detail="needs role admin or caregiver") == page.inner_text("#error")
    context.close()
