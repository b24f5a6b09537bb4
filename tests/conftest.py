"""Shared fixtures: a real PostgreSQL with every migration applied, and a live server."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from app.core.config import Settings, override_settings
from app.core.db import close_database, init_database
from app.core.migrations import migrate
from app.features import installed_features
from tests.support.database import TestDatabase, test_database


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    with test_database() as database:
        secret = tmp_path_factory.mktemp("secret") / "cookie_secret"
        cfg = Settings(database_url=database.runtime_url,
                       migration_database_url=database.owner_url,
                       secret_file=str(secret), db_threads=4, db_pool_size=12)
        override_settings(cfg)
        migrate(database.owner_url, installed_features(), cfg.db_runtime_role)
        init_database(cfg.database_url, cfg.db_pool_size, cfg.db_threads)
        try:
            yield database
        finally:
            close_database()


@pytest.fixture
def db(pg: TestDatabase) -> TestDatabase:
    """A database with the schema and no rows: every test starts from empty tables."""
    pg.truncate_all()
    return pg


@pytest.fixture
def settings_override():
    """Change settings for one test: `settings_override(lockout_threshold=3)`."""
    from app.core import config

    original = config.settings()

    def apply(**changes):
        override_settings(dataclasses.replace(config.settings(), **changes))

    yield apply
    override_settings(original)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """A local TCP port no one listens on now."""
    return _free_port()


@dataclasses.dataclass
class LiveServer:
    url: str
    application: Any = None  # the Tornado application it serves (settings may be patched)

    def client(self) -> Client:
        return Client(self.url)


class Client(requests.Session):
    """A browser-like HTTP client: keeps cookies, sends the CSRF token on writes.

    No request follows redirects unless asked (allow_redirects=True), so a page that bounces
    to /login can never pass for a 200."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        if url.startswith("/"):
            url = self.base + url
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}:
            if "_xsrf" not in self.cookies:
                super().request("GET", self.base + "/api/csrf")
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-XSRFToken", self.cookies.get("_xsrf", ""))
            kwargs["headers"] = headers
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)

    def get(self, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("allow_redirects", False)
        return self.request("GET", url, **kwargs)


@pytest.fixture(scope="session")
def live_server(pg: TestDatabase) -> Iterator[LiveServer]:
    from app.core.application import make_app
    from app.core.config import settings
    from app.core.httpserver import server_for

    port = _free_port()
    ready = threading.Event()
    state: dict = {}

    def serve() -> None:
        async def main() -> None:
            cfg = settings()
            application = state["application"] = make_app(installed_features(), cfg)
            server = server_for(application, cfg)
            server.listen(port, address="127.0.0.1")
            state["loop"] = asyncio.get_running_loop()
            state["stop"] = asyncio.Event()
            ready.set()
            await state["stop"].wait()
            server.stop()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True, name="live-server")
    thread.start()
    ready.wait(10)
    yield LiveServer(f"http://127.0.0.1:{port}", state.get("application"))
    state["loop"].call_soon_threadsafe(state["stop"].set)
    thread.join(5)


@pytest.fixture
def client(live_server: LiveServer, db: TestDatabase) -> Client:
    return live_server.client()


@pytest.fixture(scope="session")
def application(pg: TestDatabase):
    """The assembled Tornado application (routes, settings), not serving."""
    from app.core.application import make_app
    from app.core.config import settings

    return make_app(installed_features(), settings())
