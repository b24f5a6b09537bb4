"""The base of every WebSocket endpoint (chat, todo pushes): same-origin only, and only for a
signed-in principal resolved from the server-side session, like any page."""

from __future__ import annotations

from urllib.parse import urlparse

import tornado.web
import tornado.websocket

from app.core import db
from app.core.context import Principal, RequestContext
from app.core.hooks import hooks
from app.core.web import SESSION_COOKIE


class SessionWebSocket(tornado.websocket.WebSocketHandler):
    principal: Principal | None = None

    def check_origin(self, origin: str) -> bool:
        """Refuse cross-site WebSockets: the browser sends the session cookie to any page's
        socket, so the Origin must be this very host (Tornado's default compares it too, but
        this is the rule we rely on and test)."""
        return bool(origin) and urlparse(origin).netloc == self.request.host

    async def get(self, *args: str, **kwargs: str) -> None:
        session_id = self.get_cookie(SESSION_COOKIE)
        if session_id and 16 <= len(session_id) <= 128:
            self.principal = await db.run_statements(hooks.resolve_session, session_id,
                                                     self.request.remote_ip or "")
        if self.principal is None or self.principal.pending_url:
            raise tornado.web.HTTPError(401)
        await super().get(*args, **kwargs)

    @property
    def ctx(self) -> RequestContext:
        return RequestContext(principal=self.principal, ip=self.request.remote_ip or "",
                              request_id="ws",
                              user_agent=self.request.headers.get("User-Agent", "")[:300])
