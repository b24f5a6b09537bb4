"""The web base: errors in Chinese, security headers, request ids, health and metrics."""

import pytest

from tests.conftest import Client


def test_unknown_page_is_a_chinese_404(client: Client) -> None:
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "页面不存在" in response.text


def test_unknown_api_path_answers_json(client: Client) -> None:
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "页面不存在"


def test_security_headers_on_every_response(client: Client) -> None:
    for path in ("/healthz", "/api/openapi.json", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_every_response_is_dated_and_names_no_server_version(client: Client,
                                                              settings_override) -> None:
    import email.utils
    import time

    for path in ("/healthz", "/no-such-page"):
        headers = client.get(path).headers
        dated = email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
        assert abs(dated - time.time()) < 5
        assert "Server" not in headers
        assert "Strict-Transport-Security" not in headers
    settings_override(secure_cookies=True)
    assert client.get("/healthz").headers["Strict-Transport-Security"].startswith("max-age=")


def test_request_id_is_echoed_or_made(client: Client) -> None:
    given = client.get("/healthz", headers={"X-Request-Id": "abcdef0123456789"})
    assert given.headers["X-Request-Id"] == "abcdef0123456789"
    made = client.get("/healthz", headers={"X-Request-Id": "bad id!"})
    assert len(made.headers["X-Request-Id"]) == 32


def test_metrics_expose_latency_per_route_and_sessions(client: Client) -> None:
    client.get("/healthz")
    body = client.get("/metrics").text
    assert 'oa_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/healthz"' \
        in body or 'route="/healthz"' in body
    assert "oa_active_sessions" in body


def test_write_without_csrf_token_is_refused(client: Client) -> None:
    import requests

    response = requests.post(client.base + "/logout", allow_redirects=False)
    assert response.status_code == 403
    assert "页面已过期" in response.text or "请求来源无效" in response.text


def test_cross_site_origin_is_refused_even_with_a_token(client: Client) -> None:
    response = client.post("/logout", headers={"Origin": "http://evil.example"})
    assert response.status_code == 403


def test_oversized_body_is_refused_before_any_handler_runs(client: Client) -> None:
    # Tornado refuses it while reading (400); in production nginx answers 413 first.
    from app.core.config import settings

    body = b"x" * (settings().max_body_mb * 1024 * 1024 + 1)
    response = client.post("/api/csrf", data=body,
                           headers={"Content-Type": "application/octet-stream"})
    assert response.status_code in (400, 413)


def test_literal_routes_found_by_lookup_only_where_the_list_agrees() -> None:
    import tornado.httputil
    import tornado.web

    from app.core.application import PlatformApplication

    class Any_(tornado.web.RequestHandler):
        pass

    class New(tornado.web.RequestHandler):
        pass

    class Other(tornado.web.RequestHandler):
        pass

    application = PlatformApplication([(r"/items/(.*)", Any_), (r"/items/new", New),
                                       (r"/other", Other), (r"/other", New)])

    def handler_of(path: str) -> type:
        request = tornado.httputil.HTTPServerRequest(
            start_line=tornado.httputil.RequestStartLine("GET", path, "HTTP/1.1"),
            headers=tornado.httputil.HTTPHeaders({"Host": "oa.example"}))
        return application.find_handler(request).handler_class

    assert handler_of("/items/new") is Any_  # the earlier pattern wins, as in Tornado's list
    assert handler_of("/items/7") is Any_
    assert handler_of("/other") is Other  # the first of two equal routes
    assert handler_of("/other/") is tornado.web.ErrorHandler
    assert set(application._exact) == {"/other"}


def test_cookies_are_found_in_a_crowded_cookie_header(client: Client) -> None:
    from tests.support.accounts import login, make_user

    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    client.get("/api/csrf")
    sid, xsrf = client.cookies["oa_sid"], client.cookies["_xsrf"]
    header = (f'empty=; theme="dark mode"; oa_sid={sid}; lang=zh-CN; spaced = v ; '
              f'_xsrf={xsrf}; tail')
    assert client.get("/account", headers={"Cookie": header}).status_code == 200
    assert client.get("/account", headers={"Cookie": "oa_sid=; other=1"}).status_code == 302
    response = client.post("/logout", headers={"Cookie": header, "X-XSRFToken": xsrf})
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_a_page_comes_with_its_menu_badges_counted(client: Client, live_server,
                                                   monkeypatch) -> None:
    """The badges are counted in the hop that resolves the session, for a page only; a badge
    that fails leaves its link to app.js (no data-badge-counted) and the page stands."""
    from app.core.features import NavItem
    from tests.support.accounts import login, make_user

    user = make_user("zhangsan", roles=("staff",))
    counted: list[int | None] = []

    def mine(ctx) -> int:
        counted.append(ctx.user_id)
        return 7

    def broken(ctx) -> int:
        raise RuntimeError("badge query failed")

    monkeypatch.setitem(live_server.application.settings, "nav", [
        NavItem("待办", "/todo", badge=mine, badge_url="/api/todo/count"),
        NavItem("通知", "/notifications", badge=broken,
                badge_url="/api/notifications/unread-count"),
        NavItem("空", "/documents", badge=lambda ctx: 0, badge_url="/api/todo/count"),
        NavItem("管理", "/admin", permission="no.such.permission", badge=mine),
    ])
    login(client, "zhangsan")
    page = client.get("/account").text
    assert counted == [user.id]
    assert ('data-badge-url="/api/todo/count" data-badge-counted>待办'
            '<span class="badge danger nav-badge">7</span></a>') in page
    assert 'data-badge-url="/api/notifications/unread-count">通知</a>' in page
    assert 'data-badge-counted>空<span class="badge danger nav-badge hidden">0</span>' in page
    assert "管理" not in page

    for path, headers in (("/api/todo/count", {}), ("/account", {"Accept": "application/json"}),
                          ("/login/captcha", {})):
        assert client.get(path, headers=headers).status_code == 200, path
    assert client.post("/logout").status_code == 302
    assert counted == [user.id]


def test_static_urls_are_tornados_versioned_urls(client: Client, application) -> None:
    """BaseHandler.static_url keeps each URL per process: the same text as Tornado makes, on
    the first page and the next, and every one of them loads."""
    import re

    from tornado.web import StaticFileHandler

    pages = [client.get("/login").text for _ in range(2)]
    urls = re.findall(r'"(/static/[^"?]+\?v=[0-9a-f]+)"', pages[0])
    assert urls and re.findall(r'"(/static/[^"?]+\?v=[0-9a-f]+)"', pages[1]) == urls
    for url in urls:
        path = url.removeprefix("/static/").split("?")[0]
        assert url == StaticFileHandler.make_static_url(application.settings, path)
        assert client.get(url).status_code == 200


def _gzipped(client: Client, url: str) -> tuple[bytes, dict[str, str]]:
    response = client.get(url, headers={"Accept-Encoding": "gzip"}, stream=True)
    assert response.status_code == 200
    return response.raw.read(decode_content=False), dict(response.headers)


def test_responses_are_gzipped_whole_or_in_chunks(client: Client) -> None:
    """A body written whole (the API description, tens of KiB) and a static file sent in
    chunks both arrive as gzip that decodes to the plain body (FastGzip sizes the window of
    a whole body to it)."""
    import gzip

    import requests

    for url in ("/api/openapi.json", "/static/css/app.css"):
        plain = requests.get(client.base + url, headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers and len(plain.content) > 1024
        compressed, headers = _gzipped(client, url)
        assert headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in headers["Vary"]
        assert gzip.decompress(compressed) == plain.content
        assert len(compressed) < len(plain.content) / 2
        if "Content-Length" in headers:
            assert int(headers["Content-Length"]) == len(compressed)


@pytest.mark.parametrize("size", [1024, 5000, 20_000, 200_000])
def test_a_whole_body_compresses_as_well_with_its_fitted_window(size: int) -> None:
    import gzip
    import zlib

    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    from app.core.application import FastGzip

    words = "待办 公文 X公发〔2026〕7号 会议 督办 审批 ".encode()
    body = b"".join(words[: (n * 7) % len(words)] + str(n).encode() for n in range(size))[:size]
    request = HTTPServerRequest(start_line=RequestStartLine("GET", "/", "HTTP/1.1"),
                                headers=HTTPHeaders({"Host": "oa", "Accept-Encoding": "gzip"}))
    headers = HTTPHeaders({"Content-Type": "application/json", "Content-Length": str(size)})
    _, headers, compressed = FastGzip(request).transform_first_chunk(200, headers, body, True)
    assert headers["Content-Encoding"] == "gzip" and headers["Content-Length"] == str(
        len(compressed))
    assert gzip.decompress(compressed) == body
    full_window = zlib.compressobj(FastGzip.GZIP_LEVEL, zlib.DEFLATED, 31)
    assert len(compressed) <= len(full_window.compress(body) + full_window.flush())


@pytest.mark.parametrize("text", ["", "关于2026年安全生产的通知", "a<b & 'c' \"d\" >", "&amp;",
                                  "é<ü>\u3000", "<<&&>>''\"\""])
def test_templates_escape_exactly_as_tornado_does(text: str) -> None:
    from tornado.escape import utf8, xhtml_escape

    from app.core.web import escape_html

    assert escape_html(utf8(text)) == utf8(xhtml_escape(text)) == escape_html(text)


def test_dates_read_as_the_bureau_writes_them(settings_override) -> None:
    import datetime as dt

    from app.core.web import fmt_date, fmt_datetime

    settings_override(time_zone="Asia/Shanghai")
    late_evening_utc = dt.datetime(2026, 11, 24, 17, 5, 59, 999999, tzinfo=dt.UTC)
    assert fmt_datetime(late_evening_utc) == "2026-11-25 01:05"
    assert fmt_date(late_evening_utc) == "2026-11-25"
    assert fmt_datetime(dt.datetime(2026, 1, 2, 3, 4)) == "2026-01-02 11:04"  # naive: UTC
    assert fmt_date(dt.date(2026, 3, 7)) == "2026-03-07"
    assert fmt_date(None) == fmt_datetime(None) == ""
