"""CSRF refusal and security headers on the identity pages."""

from __future__ import annotations

import requests

from tests.support.accounts import login, make_user


def test_post_without_xsrf_token_is_refused(client, live_server):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    bare = requests.post(live_server.url + "/logout", cookies=client.cookies,
                         allow_redirects=False)
    assert bare.status_code == 403
    assert client.get("/account", allow_redirects=False).status_code == 200  # still signed in
    login_without_token = requests.post(live_server.url + "/login",
                                        data={"username": "zhangsan", "password": "x"},
                                        allow_redirects=False)
    assert login_without_token.status_code == 403


def test_cross_site_origin_is_refused_even_with_the_token(client):
    make_user("zhangsan", roles=("staff",))
    login(client, "zhangsan")
    foreign = client.post("/logout", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    fetch_site = client.post("/logout", headers={"Sec-Fetch-Site": "cross-site"})
    assert fetch_site.status_code == 403
    assert client.get("/account", allow_redirects=False).status_code == 200
    same = client.post("/logout", headers={"Origin": client.base})
    assert same.status_code == 302


def test_security_headers_on_the_login_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in {"same-origin", "no-referrer",
                                                   "strict-origin-when-cross-origin"}
    assert "<script>" not in response.text and "style=" not in response.text
    assert "onclick" not in response.text


def test_captcha_image_is_a_png_with_a_short_lived_server_side_answer(client, sql):
    response = client.get("/login/captcha")
    assert response.headers["Content-Type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Path=/login" in cookie
    token = client.cookies["oa_captcha"]
    stored = sql.run("SELECT token_hash, answer_hash FROM captcha_challenge")
    assert len(stored) == 1 and token not in stored[0]
