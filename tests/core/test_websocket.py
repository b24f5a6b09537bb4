"""WebSockets: only from this site's own pages and only for a signed-in user."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
import tornado.websocket
from tornado.httpclient import HTTPClientError, HTTPRequest

from app.core.application import make_app
from app.core.config import settings
from app.core.httpserver import PlatformHTTPServer
from app.core.websocket import SessionWebSocket
from app.features import installed_features
from tests.conftest import LiveServer
from tests.support.accounts import login, make_user


class WhoAmI(SessionWebSocket):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(self.principal.username if self.principal else "")


async def _talk(port: int, cookie: str, origin: str) -> str:
    request = HTTPRequest(f"ws://127.0.0.1:{port}/ws", headers={"Cookie": cookie,
                                                                "Origin": origin})
    connection = await tornado.websocket.websocket_connect(request)
    await connection.write_message("who")
    answer = await connection.read_message()
    connection.close()
    return str(answer)


def _serve_and_talk(cookie: str, origin: str | None = None) -> str:
    """Serve the app with a /ws test socket on a free port and ask it who we are; no origin
    means this site's own origin."""
    async def main() -> str:
        application = make_app(installed_features(), settings())
        application.wildcard_router.add_rules([(r"/ws", WhoAmI)])
        server = PlatformHTTPServer(application)
        server.listen(0, address="127.0.0.1")
        port = next(iter(server._sockets.values())).getsockname()[1]
        try:
            return await _talk(port, cookie, origin or f"http://127.0.0.1:{port}")
        finally:
            server.stop()

    # a thread of its own: the browser tests' Playwright keeps a loop in the main thread
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, main()).result()


@pytest.fixture
def session_cookie(live_server: LiveServer, db) -> str:
    make_user("wsuser", roles=("staff",))
    client = live_server.client()
    login(client, "wsuser")
    return f"oa_sid={client.cookies['oa_sid']}"


def test_same_origin_signed_in_socket_knows_its_user(session_cookie: str) -> None:
    assert _serve_and_talk(session_cookie) == "wsuser"


def test_cross_site_socket_is_refused(session_cookie: str) -> None:
    with pytest.raises(HTTPClientError) as refused:
        _serve_and_talk(session_cookie, "http://evil.example")
    assert refused.value.code == 403


def test_socket_without_session_is_refused(db) -> None:
    with pytest.raises(HTTPClientError) as refused:
        _serve_and_talk("oa_sid=" + "x" * 43)
    assert refused.value.code == 401
