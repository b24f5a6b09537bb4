"""The base request handlers: identity, permissions, CSRF, errors, templates, metrics.

Handlers stay thin: parse input (`self.parse(SCHEMA)`), call one service function through
`await self.run(service.fn, self.ctx, ...)`, render. Services raise `DomainError`s; this module
turns them into Chinese HTML pages or JSON errors with the right status.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlparse
from zoneinfo import ZoneInfo

import orjson
import tornado.web
from tornado import httputil, template
from tornado.ioloop import IOLoop

from app.core import db, metrics
from app.core.config import settings
from app.core.context import Principal, RequestContext
from app.core.errors import DomainError, NotAuthenticated, PermissionDenied, ValidationError
from app.core.features import NavItem
from app.core.forms import Schema
from app.core.hooks import hooks
from app.core.logs import request_id_var

log = logging.getLogger("oa.web")
access_log = logging.getLogger("oa.access")
SESSION_COOKIE = "oa_sid"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_static_urls: dict[str, str] = {}  # BaseHandler.static_url, per process


def header_value(headers: httputil.HTTPHeaders, name: str) -> str:
    """A request header's value ('' when absent; several lines joined by commas, as Tornado's
    `headers.get`). Tornado's `get` finds an absent header by catching a KeyError, and the
    headers asked for on every request (X-Request-Id, X-Real-IP...) are mostly absent: the
    two such lookups were 2 % of the mixed load's CPU (bench/README.md, finding 72)."""
    values = headers.get_list(name)
    return values[0] if len(values) == 1 else ",".join(values)


STATUS_MESSAGES = {
    400: "请求有误",
    401: "请先登录",
    403: "您没有权限访问此页面",
    404: "页面不存在",
    405: "不支持此操作",
    409: "数据已被他人修改，请刷新后重试",
    413: "提交的内容过大",
    415: "不支持的内容类型",
    429: "操作过于频繁，请稍后再试",
    500: "系统内部错误，请稍后重试或联系管理员",
    503: "服务暂不可用，请稍后再试",
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'; manifest-src 'self'; worker-src 'self'"
)


def requires(code: str) -> Callable:
    """Decorate a handler method: only principals holding permission `code` get in."""

    def decorate(method: Callable[..., Awaitable[Any] | Any]) -> Callable:
        @functools.wraps(method)
        async def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> Any:
            if self.principal is None:
                raise NotAuthenticated()
            if not self.principal.can(code):
                raise PermissionDenied(code)
            result = method(self, *args, **kwargs)
            if isinstance(result, Awaitable):
                result = await result
            return result

        wrapper.permission = code  # type: ignore[attr-defined]
        return wrapper

    return decorate


class FeatureTemplateLoader(template.Loader):
    """Template names `feature/file.html` resolve to `app/<feature>/templates/file.html`;
    a bare name (`base.html`) resolves to the core's templates."""

    def __init__(self, directories: dict[str, str], **kwargs: Any) -> None:
        super().__init__(directories[""], **kwargs)
        self.directories = directories

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        return name

    def _create_template(self, name: str) -> template.Template:
        prefix, _, rest = name.partition("/")
        if rest and prefix in self.directories:
            path = f"{self.directories[prefix]}/{rest}"
        else:
            path = f"{self.directories['']}/{name}"
        with open(path, "rb") as handle:
            return template.Template(handle.read(), name=name, loader=self)


# What every response of BaseHandler starts with (BaseHandler.clear).
_RESPONSE_HEADERS = {
    "Content-Type": "text/html; charset=UTF-8",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_date_of_second: tuple[int, str] = (-1, "")  # replaced whole, never torn


def _http_date() -> str:
    """The Date header's text for now, formatted once per second."""
    global _date_of_second
    second = int(time.time())
    cached = _date_of_second
    if cached[0] != second:
        cached = _date_of_second = (second, httputil.format_timestamp(second))
    return cached[1]


class BaseHandler(tornado.web.RequestHandler):
    public = False  # True: reachable without signing in
    allow_pending = False  # True: reachable while a password change or TOTP step is pending
    shows_menu = True  # False: a GET here answers with no page (a file, an image, JSON)
    principal: Principal | None = None
    badges: Mapping[str, int] = MappingProxyType({})  # nav item url -> its count, for a page

    def initialize(self, route: str = "", **kwargs: Any) -> None:
        self.route = route or self.request.path
        self.started = time.perf_counter()
        self.options = kwargs

    def _request_id(self) -> str:
        given = header_value(self.request.headers, "X-Request-Id")
        return given if _REQUEST_ID.match(given) else os.urandom(16).hex()

    # ---- identity -------------------------------------------------------------------------
    async def prepare(self) -> None:
        request_id_var.set(self.request_id)
        self.check_origin_of_unsafe_request()
        session_id = self.get_cookie(SESSION_COOKIE)
        if session_id and 16 <= len(session_id) <= 128:
            with_badges = (self.shows_menu and self.request.method == "GET"
                           and not self.wants_json)
            self.principal, self.badges = await db.run_statements(
                self._identify, session_id, with_badges)
        if self.principal is None and not self.public:
            raise NotAuthenticated()
        if self.principal and self.principal.pending_url and not self.allow_pending:
            if self.wants_json:
                raise PermissionDenied(message="请先完成安全设置（修改密码或绑定动态口令）")
            self.redirect(self.principal.pending_url)

    def _identify(self, session_id: str, with_badges: bool) -> tuple[Principal | None,
                                                                      Mapping[str, int]]:
        """On a database thread: the session's principal and, for a page, its menu's badge
        counts, in one hop instead of a page request plus a badge request per badge
        (bench/README.md, finding 42)."""
        principal = hooks.resolve_session(session_id, self.ip)
        if principal is None or principal.pending_url or not with_badges:
            return principal, self.badges
        ctx = self._context(principal)
        counts = {}
        for item in _visible_items(self.application.settings.get("nav", []), principal):
            if item.badge is not None:
                try:
                    counts[item.url] = item.badge(ctx)
                except Exception:  # the page goes on; app.js asks badge_url for it
                    log.exception("could not count the badge of %s", item.url)
        return principal, counts

    def get_current_user(self) -> Principal | None:
        return self.principal

    @property
    def ip(self) -> str:
        return self.request.remote_ip or ""

    @property
    def ctx(self) -> RequestContext:
        return self._context(self.principal)

    def _context(self, principal: Principal | None) -> RequestContext:
        return RequestContext(
            principal=principal,
            ip=self.ip,
            request_id=self.request_id,
            user_agent=self.request.headers.get("User-Agent", "")[:300],
        )

    def set_session_cookie(self, session_id: str) -> None:
        self.set_cookie(
            SESSION_COOKIE,
            session_id,
            httponly=True,
            samesite="Lax",
            secure=settings().secure_cookies,
            path="/",
        )

    def clear_session_cookie(self) -> None:
        self.clear_cookie(SESSION_COOKIE, path="/")

    # ---- the unit of work -------------------------------------------------------------------
    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a service function as one transaction off the IOLoop (see app.core.db)."""
        return await db.unit_of_work(fn, *args, **kwargs)

    # ---- CSRF -------------------------------------------------------------------------------
    def check_origin_of_unsafe_request(self) -> None:
        """Refuse cross-site state changes even before the XSRF token is compared."""
        if self.request.method not in _UNSAFE:
            return
        headers = self.request.headers
        if header_value(headers, "Sec-Fetch-Site") == "cross-site":
            raise PermissionDenied(message="拒绝跨站请求")
        origin = header_value(headers, "Origin")
        if origin and origin != "null":
            if urlparse(origin).netloc != self.request.host:
                raise PermissionDenied(message="拒绝跨站请求（来源不符）")
        elif origin == "null":
            raise PermissionDenied(message="拒绝跨站请求（来源不明）")

    def check_xsrf_cookie(self) -> None:
        try:
            super().check_xsrf_cookie()
        except tornado.web.HTTPError:
            raise PermissionDenied(message="页面已过期或请求来源无效，请刷新页面后重试") from None

    # ---- input ------------------------------------------------------------------------------
    @property
    def wants_json(self) -> bool:
        if self.request.path.startswith("/api/"):
            return True
        return "application/json" in self.request.headers.get("Accept", "")

    def json_body(self) -> Any:
        if not self.request.body:
            return {}
        try:
            return json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError):
            raise ValidationError(message="请求内容不是有效的 JSON") from None

    def form_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, values in self.request.arguments.items():
            if key == "_xsrf":
                continue
            decoded = [v.decode("utf-8", errors="replace") for v in values]
            data[key] = decoded if len(decoded) > 1 or key.endswith("[]") else decoded[0]
        return {_utf8_name(k).removesuffix("[]"): v for k, v in data.items()}

    def input_data(self) -> Any:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            return self.json_body()
        return self.form_data()

    def parse(self, schema: Schema, partial: bool = False) -> dict[str, Any]:
        return schema.validate(self.input_data(), partial=partial)

    def int_argument(self, name: str, default: int, minimum: int = 1, maximum: int = 10_000) -> int:
        raw = self.get_argument(name, "")
        if raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError({name: "必须是整数"}) from None
        return max(minimum, min(maximum, value))

    # ---- output -----------------------------------------------------------------------------
    def clear(self) -> None:
        """Tornado's reset of the response (its private fields, of the pinned version), with the
        headers every response here starts with made once: Tornado built its own three, the
        Date formatted anew, and then ours one `set_header` at a time, each value matched
        against a pattern (6 % of a 待办 request, now 2 %; bench/README.md, finding 70). The
        Date is formatted once per second; no Server header names Tornado's version."""
        if not hasattr(self, "request_id"):  # called by Tornado before initialize()
            self.request_id = self._request_id()
        headers = httputil.HTTPHeaders(_RESPONSE_HEADERS)
        headers["Date"] = _http_date()
        if settings().secure_cookies:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        headers["X-Request-Id"] = self.request_id  # _REQUEST_ID's characters, or hex
        self._headers = headers
        self._write_buffer: list[bytes] = []
        self._status_code = 200
        self._reason = httputil.responses[200]
        self.set_default_headers()  # Tornado's hook, kept for a handler that sets its own

    def compute_etag(self) -> str | None:
        """No ETag: every response is `no-store` (a hash of each body would be wasted)."""
        return None

    def check_etag_header(self) -> bool:
        """Never a 304: no response here carries an ETag (compute_etag), so If-None-Match is
        not even parsed (1 % of a 待办 request; bench/README.md, finding 38)."""
        return False

    def get_cookie(self, name: str, default: str | None = None) -> str | None:
        """Tornado's value of a cookie, from the Cookie header parsed into a plain dict once
        per request: Tornado builds a SimpleCookie of Morsels first (1.5 % of a 待办
        request; finding 38). Names SimpleCookie would refuse are not ours."""
        cookies = self.__dict__.get("_plain_cookies")
        if cookies is None:
            cookies = self._plain_cookies = httputil.parse_cookie(
                self.request.headers.get("Cookie", ""))
        return cookies.get(name, default)

    def static_url(self, path: str, include_host: bool | None = None, **kwargs: Any) -> str:
        """Tornado's versioned URL of a static file, made once per path while the process
        keeps the files' hashes (static_hash_cache: not in debug); Tornado resolves the path
        and looks its hash up again on every call, a dozen times a page (1 % of the pages'
        CPU, finding 60)."""
        if (include_host or kwargs or getattr(self, "include_host", False)
                or not self.settings.get("static_hash_cache", True)):
            return super().static_url(path, include_host, **kwargs)
        url = _static_urls.get(path)
        if url is None:
            url = _static_urls[path] = super().static_url(path)
        return url

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(to_json(payload))

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace.update(
            principal=self.principal,
            nav=self.visible_nav(),
            badges=self.badges,
            fmt_date=fmt_date,
            fmt_datetime=fmt_datetime,
            escape_html=escape_html,
            url_quote=quote,
            request_id=self.request_id,
            page_title="",
        )
        return namespace

    def visible_nav(self) -> list[Any]:
        """The menu this principal may see; worked out once per request, not once per template
        (the portal renders each widget with its own namespace)."""
        kept = self.__dict__.get("_nav")
        if kept is not None and kept[0] is self.principal:
            return kept[1]
        visible = _visible_items(self.application.settings.get("nav", []), self.principal)
        self._nav = (self.principal, visible)
        return visible

    # ---- errors -----------------------------------------------------------------------------
    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, DomainError) and not self._finished:
            self._handle_domain_error(e)
            return
        super()._handle_request_exception(e)

    def _handle_domain_error(self, error: DomainError) -> None:
        if isinstance(error, NotAuthenticated) and not self.wants_json:
            self.redirect("/login?next=" + quote(self.request.uri or "/"))
            return
        if isinstance(error, PermissionDenied):
            self._audit_denial(error)
        fields = error.fields if isinstance(error, ValidationError) else {}
        self.send_error(error.status, message=error.message, fields=fields)

    def _audit_denial(self, error: PermissionDenied) -> None:
        details = {"permission": error.permission, "path": self.request.path,
                   "method": self.request.method, "message": error.message}
        IOLoop.current().spawn_callback(_write_denial, self.ctx, self.route, details)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = kwargs.get("message") or STATUS_MESSAGES.get(status_code, "请求无法处理")
        fields = kwargs.get("fields") or {}
        if "exc_info" in kwargs and status_code >= 500:
            message = STATUS_MESSAGES[500]
        elif "exc_info" in kwargs:
            exc = kwargs["exc_info"][1]
            if isinstance(exc, tornado.web.HTTPError) and status_code in STATUS_MESSAGES:
                message = STATUS_MESSAGES[status_code]
        if self.wants_json:
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            body = {"error": {"status": status_code, "message": message,
                              "fields": fields, "request_id": self.request_id}}
            self.finish(to_json(body))
            return
        self.render("error.html", status=status_code, message=message, fields=fields)

    def on_finish(self) -> None:
        metrics.observe_request(self.route, self.request.method or "", self.get_status(),
                                time.perf_counter() - self.started)


def _visible_items(items: list[NavItem], principal: Principal | None) -> list[NavItem]:
    if principal is None:
        return []
    return [i for i in items if i.permission is None or principal.can(i.permission)]


def _utf8_name(name: str) -> str:
    """Tornado decodes urlencoded argument NAMES as Latin-1; our field keys may be Chinese."""
    try:
        return name.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name


async def _write_denial(ctx: RequestContext, route: str, details: dict[str, Any]) -> None:
    try:
        await db.unit_of_work(hooks.audit, ctx, "auth.permission_denied", object_type="route",
                              object_id=route, outcome="denied", details=details)
    except Exception:
        log.exception("could not audit a permission denial")


class ApiHandler(BaseHandler):
    """JSON endpoints under /api/. `openapi` describes each method for the OpenAPI document:
    {"get": {"summary": "...", "query": Schema, "body": Schema, "response": {...},
    "tags": ["..."]}}."""

    openapi: dict[str, dict[str, Any]] = {}


class NotFoundHandler(BaseHandler):
    public = True
    allow_pending = True

    async def prepare(self) -> None:
        await super().prepare()
        raise tornado.web.HTTPError(404)


def to_json(payload: Any) -> bytes:
    """UTF-8 JSON of a response: dates and times in ISO 8601, sets as lists, non-string keys as
    strings. orjson, not the standard library: encoding was 5 % of a 待办 request's CPU
    (bench/README.md, finding 31)."""
    return orjson.dumps(payload, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def local_time(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(ZoneInfo(settings().time_zone))  # ZoneInfo keeps its instances


# isoformat, not strftime: a list page formats two moments per row (finding 73)
def fmt_date(value: dt.date | dt.datetime | None) -> str:
    """2026-11-24 (a moment: its local calendar day)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = local_time(value)
    return value.isoformat()[:10]


def fmt_datetime(value: dt.datetime | None) -> str:
    """2026-11-24 10:15, local time."""
    return local_time(value).isoformat(" ", "minutes")[:16] if value else ""


def escape_html(value: bytes | str) -> bytes:
    """The templates' autoescape, in UTF-8 bytes: what Tornado's xhtml_escape gives (the same
    five entities as html.escape), without its round trip. A template hands every {{ }}
    value to it already encoded, and xhtml_escape decoded it, escaped the text and encoded it
    again (0.8 us against 0.3; list pages render 16-21 % faster, finding 73). In UTF-8 these
    five characters are single bytes that occur in no other character's encoding."""
    data = value if isinstance(value, bytes) else value.encode()
    return (data.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")
            .replace(b'"', b"&quot;").replace(b"'", b"&#x27;"))


def request_summary(handler: tornado.web.RequestHandler) -> str:
    request = handler.request
    user = getattr(getattr(handler, "principal", None), "username", "-")
    return (f"{handler.get_status()} {request.method} {request.uri} user={user} "
            f"ip={request.remote_ip} rid={getattr(handler, 'request_id', '-')} "
            f"{1000 * request.request_time():.1f}ms")


def log_request(handler: tornado.web.RequestHandler) -> None:
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    access_log.log(level, request_summary(handler))

