// Progressive behaviour for server-rendered pages; every page works without it.
(function () {
  "use strict";

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  // JSON API call carrying the CSRF token; resolves to {ok, status, data}.
  async function api(method, url, body) {
    const options = {method: method, credentials: "same-origin",
      headers: {"Accept": "application/json", "X-XSRFToken": cookie("_xsrf")}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return {ok: response.ok, status: response.status, data: data};
  }

  // <form data-confirm="确定删除？"> or <button data-confirm="...">: ask before submitting.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const button = event.submitter;
    const question = (button && button.dataset.confirm) || form.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // <select data-autosubmit>: submit its form on change.
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) event.target.form.requestSubmit();
  });

  // <img data-refresh> (captcha): click to load a new image.
  document.addEventListener("click", function (event) {
    const img = event.target.closest("img[data-refresh]");
    if (img) img.src = img.dataset.refresh + "?t=" + Date.now();
  });

  // <a data-badge-url="/api/...">: a count badge from the same query as the page it opens.
  // The server counts it with the page (data-badge-counted); on load only a link that came
  // without its count asks for it; refreshBadges(true) asks for all of them again.
  async function refreshBadges(all) {
    const links = all ? "a[data-badge-url]" : "a[data-badge-url]:not([data-badge-counted])";
    for (const link of document.querySelectorAll(links)) {
      const answer = await api("GET", link.dataset.badgeUrl);
      if (!answer.ok || !answer.data) continue;
      let badge = link.querySelector(".nav-badge");
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "badge danger nav-badge";
        link.appendChild(badge);
      }
      badge.textContent = String(answer.data.count);
      badge.classList.toggle("hidden", !answer.data.count);
    }
  }
  refreshBadges();

  if ("serviceWorker" in navigator && location.protocol !== "file:") {
    navigator.serviceWorker.register("/sw.js").catch(function () { /* optional */ });
  }

  window.oa = {api: api, cookie: cookie, refreshBadges: refreshBadges};
})();
