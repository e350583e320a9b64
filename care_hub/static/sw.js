// care-hub service worker: shows a family member's push notification (an alert escalated to the
// family tier) with the page closed, and opens the family page when it is tapped.
// Served from the site root (/sw.js) so its scope covers every page. Plain ES2020, no imports.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// The hub writes the words in the subscriber's language (title, body); the payload is
// encrypted end to end (RFC 8291): the push service cannot read it.
self.addEventListener("push", (event) => {
  let msg = {};
  try { msg = event.data ? event.data.json() : {}; } catch { msg = { body: event.data ? event.data.text() : "" }; }
  const title = msg.title || "care-hub";
  event.waitUntil(self.registration.showNotification(title, {
    body: msg.body || "",
    tag: msg.tag || "care-hub",
    renotify: true,
    requireInteraction: true,
    lang: msg.lang || undefined,
    data: { url: msg.url || "/family" },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/family", self.location.origin).href;
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const c of open) {
      if (c.url.startsWith(url) && "focus" in c) return c.focus();
    }
    return self.clients.openWindow(url);
  })());
});
