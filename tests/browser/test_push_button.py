"""The family page's notification button and the service worker in a real browser: `/sw.js`
registers at the root scope and shows a pushed message as a notification (the push itself is
delivered by Chromium's DevTools protocol: no push service, no outside network)."""

from __future__ import annotations

import json
from typing import Any

from tests.browser.conftest import Site
from tests.conftest import PASSWORD


def test_family_page_offers_notifications_and_the_worker_shows_a_push(
    site: Site, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 414, "height": 896}, locale="en-GB")
    context.grant_permissions(["notifications"], origin=site.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site.url}/family")
    page.fill("input[name=username]", "family")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#push-toggle:not([hidden])")
    assert page.inner_text("#push-toggle") == "Notify me on this phone"

    # What the button does before subscribing: the worker at the root scope.
    scope = page.evaluate(
        """async () => {
            const reg = await navigator.serviceWorker.register('/sw.js', {scope: '/'});
            await navigator.serviceWorker.ready;
            return reg.scope;
        }"""
    )
    assert scope == f"{site.url}/"
    cdp = context.new_cdp_session(page)
    registrations: dict[str, str] = {}

    def seen(event: dict[str, Any]) -> None:
        for r in event.get("registrations", []):
            registrations[r["scopeURL"]] = r["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", seen)
    cdp.send("ServiceWorker.enable")  # reports the registrations that exist
    for _ in range(50):
        if f"{site.url}/" in registrations:
            break
        page.wait_for_timeout(100)
    registration_id = registrations.get(f"{site.url}/")
    assert registration_id, "the service worker registration was not reported"
    message = {
        "title": "Resident 1: the care home needs you to know",
        "body": "A possible fall",
        "tag": "alert-7",
        "url": "/family",
    }

    def deliver_and_wait(tries: int) -> list[dict[str, str]]:
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": site.url, "registrationId": registration_id, "data": json.dumps(message)},
        )
        for _ in range(tries):
            shown = page.evaluate(
                """async () => {
                    const reg = await navigator.serviceWorker.getRegistration('/');
                    const list = await reg.getNotifications();
                    return list.map((n) => ({title: n.title, body: n.body, tag: n.tag}));
                }"""
            )
            if shown:
                return list(shown)
            page.wait_for_timeout(100)
        return []

    # Chromium now and then drops a push the DevTools protocol hands its worker (2 runs in about
    # 60 here, nothing shown after 5 s; cause not found): deliver once more then. A second
    # delivery of the same tag replaces the first notification, so one is still expected.
    shown = deliver_and_wait(50) or deliver_and_wait(100)
    assert shown == [{"title": message["title"], "body": "A possible fall", "tag": "alert-7"}]
    assert errors == []
    context.close()
