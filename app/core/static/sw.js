// Service worker: keeps the app shell (styles, scripts, icon) for a phone on a weak network.
// Pages and API answers are never cached: they carry personal and classified data.
const SHELL = "oa-shell-v1";
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll([
    "/static/css/app.css", "/static/js/app.js", "/static/img/icon.svg",
  ])));
  self.skipWaiting();
});
self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(
    keys.filter((key) => key !== SHELL).map((key) => caches.delete(key)))));
});
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !url.pathname.startsWith("/static/")) return;
  event.respondWith(caches.match(event.request, {ignoreSearch: true})
    .then((hit) => hit || fetch(event.request)));
});
