"""Assemble the Tornado application from the installed features."""

from __future__ import annotations

import os
import secrets
import zlib
from pathlib import Path
from typing import Any

import tornado.httputil
import tornado.routing
import tornado.web

from app.core import handlers
from app.core.client_address import apply_proxy_headers
from app.core.config import Settings, settings
from app.core.features import Feature, NavItem, ordered
from app.core.openapi import build_document
from app.core.web import FeatureTemplateLoader, NotFoundHandler, log_request

CORE_DIR = Path(__file__).resolve().parent

CORE_ROUTES: list[tuple[str, type]] = [
    ("/healthz", handlers.HealthHandler),
    ("/metrics", handlers.MetricsHandler),
    ("/api/openapi.json", handlers.OpenApiHandler),
    ("/api/csrf", handlers.CsrfHandler),
]


def cookie_secret(cfg: Settings) -> str:
    """The configured secret, else one kept in `secret_file` (made once, mode 0600)."""
    if cfg.cookie_secret:
        return cfg.cookie_secret
    path = Path(cfg.secret_file)
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_urlsafe(48)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    try:
        os.link(tmp, path)  # first writer wins; others read the winner's secret
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def all_routes(features: list[Feature]) -> list[tuple[str, type, dict[str, Any]]]:
    routes: list[tuple[str, type, dict[str, Any]]] = [(p, h, {}) for p, h in CORE_ROUTES]
    for feature in ordered(features):
        for route in feature.routes:
            pattern, handler, *rest = route
            routes.append((pattern, handler, dict(rest[0]) if rest else {}))
    return routes


class FastGzip(tornado.web.GZipContentEncoding):
    """Tornado's gzip encoding (which responses, its headers), made cheaper twice over:

    - zlib level 1, not Tornado's 6: the workers share two cores with PostgreSQL, and on pages
      and JSON of a few KiB level 6 buys a few per cent fewer bytes for more CPU
      (bench/README.md, finding 26);
    - a response written whole is compressed with a window no larger than itself, by zlib
      directly. Tornado's GzipFile sets up a 32 KiB window and its tables for every response,
      which cost more than compressing a 5 KiB 待办 page: 64-73 µs against 8-23 µs, the same
      bytes out (no match can reach further back than the body's own start; finding 68).
      A response sent in chunks (large static files) keeps the full window."""

    GZIP_LEVEL = 1
    FULL_WINDOW_BITS = 15
    SMALLEST_WINDOW_BITS = 9  # zlib's least

    def transform_first_chunk(self, status_code: int, headers: tornado.httputil.HTTPHeaders,
                              chunk: bytes, finishing: bool,
                              ) -> tuple[int, tornado.httputil.HTTPHeaders, bytes]:
        headers["Vary"] = (headers["Vary"] + ", Accept-Encoding" if "Vary" in headers
                           else "Accept-Encoding")
        if self._gzipping:
            self._gzipping = (
                self._compressible_type(headers.get("Content-Type", "").split(";")[0])
                and (not finishing or len(chunk) >= self.MIN_LENGTH)
                and "Content-Encoding" not in headers)
        if not self._gzipping:
            return status_code, headers, chunk
        headers["Content-Encoding"] = "gzip"
        window = self.FULL_WINDOW_BITS
        if finishing:
            window = max(self.SMALLEST_WINDOW_BITS, min(window, (len(chunk) - 1).bit_length()))
        self._compressor = zlib.compressobj(self.GZIP_LEVEL, zlib.DEFLATED, 16 + window)
        chunk = self.transform_chunk(chunk, finishing)
        if "Content-Length" in headers:  # only the whole body can tell its compressed length
            if finishing:
                headers["Content-Length"] = str(len(chunk))
            else:
                del headers["Content-Length"]
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        if not self._gzipping:
            return chunk
        compressed = self._compressor.compress(chunk)
        return compressed + self._compressor.flush(zlib.Z_FINISH if finishing
                                                   else zlib.Z_SYNC_FLUSH)


_REGEX_SYNTAX = set(".^$*+?{}[]\\|()")


class PlatformApplication(tornado.web.Application):
    """Tornado's application with a dictionary in front of its routing: a path that is a route
    of its own (`/api/todo`, `/`) finds its handler in one lookup instead of a regular
    expression tried against each of the 127 routes before it (about 3 % of a 待办 request,
    bench/README.md, finding 32). Only where the list would have chosen the same route: a
    literal route is in the dictionary when no route before it matches its path."""

    _exact: dict[str, tornado.routing.Rule]
    _exact_for = -1  # how many rules the dictionary was built from

    def find_handler(self, request: Any, **kwargs: Any) -> Any:
        # the first place where the request exists: its address is right for every handler
        apply_proxy_headers(request, settings().trusted_proxies)
        rules = self.wildcard_router.rules
        if len(self.default_router.rules) == 1:  # no host-specific routes (add_handlers)
            if self._exact_for != len(rules):
                self._exact, self._exact_for = _exact_routes(rules), len(rules)
            rule = self._exact.get(request.path)
            if rule is not None:
                return self.get_handler_delegate(request, rule.target, rule.target_kwargs)
        return super().find_handler(request, **kwargs)


def _exact_routes(rules: list[tornado.routing.Rule]) -> dict[str, tornado.routing.Rule]:
    exact: dict[str, tornado.routing.Rule] = {}
    for position, rule in enumerate(rules):
        matcher = rule.matcher
        if not isinstance(matcher, tornado.routing.PathMatches) or matcher.regex.groups:
            continue
        path = matcher.regex.pattern.removesuffix("$")
        if path in exact or _REGEX_SYNTAX & set(path) or not isinstance(rule.target, type):
            continue
        if not any(earlier.matcher.match(_PathOnly(path)) is not None
                   for earlier in rules[:position]):
            exact[path] = rule
    return exact


class _PathOnly:
    """What a path matcher reads of a request."""

    def __init__(self, path: str) -> None:
        self.path = path


def make_app(features: list[Feature], cfg: Settings) -> tornado.web.Application:
    features = ordered(features)
    routes = all_routes(features)
    specs = [tornado.web.url(p, h, {**kw, "route": p}) for p, h, kw in routes]
    static = CORE_DIR / "static"
    specs += [
        (r"/(sw\.js|manifest\.webmanifest|favicon\.ico)", tornado.web.StaticFileHandler,
         {"path": str(static)}),
    ]
    specs += [
        (rf"/assets/{f.name}/(.*)", tornado.web.StaticFileHandler, {"path": str(f.static_dir)})
        for f in features
        if f.static_dir.is_dir()
    ]
    directories = {"": str(CORE_DIR / "templates")}
    directories.update({f.name: str(f.templates_dir) for f in features})
    nav: list[NavItem] = sorted((n for f in features for n in f.nav), key=lambda n: n.order)
    application = PlatformApplication(
        specs,
        template_loader=FeatureTemplateLoader(directories, autoescape="escape_html"),
        static_path=str(static),
        cookie_secret=cookie_secret(cfg),
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"samesite": "Lax", "secure": cfg.secure_cookies},
        default_handler_class=NotFoundHandler,
        log_function=log_request,
        debug=cfg.debug,
        nav=nav,
        features=features,
        widgets=[w for f in features for w in f.widgets],
        openapi=build_document([(p, h) for p, h, _ in routes], "公安局办公平台 API", "1"),
    )
    application.add_transform(FastGzip)
    for feature in features:
        if feature.on_start is not None:
            feature.on_start(application)
    return application
