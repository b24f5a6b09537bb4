"""Alerts kept on disk while the database cannot take them, and replayed in order.

The alert that matters most, 数据库不可用, arrives exactly when its notification cannot be
stored. Refusing the post would leave it to Alertmanager's retries, which stop after one group
interval; and Alertmanager never sends a resolved-only post for an alert whose firing post it
never delivered, so the admins would find no trace of the outage. So a post the database
refuses is written to the spool directory (one file per post, written atomically) and
acknowledged; every worker replays the spool, oldest first, once the database answers again.

While the spool holds anything, new posts join its end instead of going straight to the
database, so that posts are always applied in the order they arrived (a resolved post must
not overtake its firing post). One replayer at a time holds the directory's lock; a post's
file is removed only after its transaction committed (a crash in between replays the post
again, which the service applies idempotently).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

import peewee as pw

from app.core import db
from app.core.config import settings
from app.core.context import RequestContext
from app.core.errors import ValidationError
from app.core.files import write_atomically
from app.core.periodic import every
from app.notifications import service

log = logging.getLogger("oa.notifications.spool")

REPLAY_SECONDS = 5.0
SUFFIX = ".alert.json"
REJECTED_SUFFIX = ".rejected"
# What a refusing database raises: it is down, restarting, refusing the role, or the pooled
# connection died with it. A post that is merely wrong is never spooled (it gets its 400).
DATABASE_UNAVAILABLE = (pw.OperationalError, pw.InterfaceError)


def spool_dir() -> Path:
    return Path(settings().extra.get("alert_spool_dir", "var/alert-spool"))


def pending() -> list[Path]:
    """The spooled posts, oldest first (names begin with the arrival time in nanoseconds)."""
    try:
        return sorted(spool_dir().glob(f"*{SUFFIX}"))
    except FileNotFoundError:
        return []


def put(body: dict[str, Any], ctx: RequestContext) -> Path:
    """Keep one post (the raw body, validated again at replay) with when and whence it came."""
    directory = spool_dir()
    directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    entry = {"received_at": dt.datetime.now(dt.UTC).isoformat(), "ip": ctx.ip,
             "request_id": ctx.request_id, "user_agent": ctx.user_agent, "body": body}
    path = directory / f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
    write_atomically(path, json.dumps(entry, ensure_ascii=False).encode())
    log.warning("告警已暂存，待数据库可用后按序应用：%s", path.name)
    return path


async def receive(ctx: RequestContext, body: dict[str, Any],
                  payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Apply a validated post now, or spool it (see the module doc). (HTTP status, answer)."""
    if not pending():
        try:
            return 200, await db.unit_of_work(service.receive_alerts, ctx, payload)
        except DATABASE_UNAVAILABLE:
            pass
    await db.run_blocking(put, body, ctx)
    return 202, {"spooled": True, "firing": sum(a["status"] == "firing" for a in payload["alerts"]),
                 "resolved": sum(a["status"] == "resolved" for a in payload["alerts"])}


def replay() -> int:
    """Blocking: apply the spooled posts in order, each in its own transaction, until the spool
    is empty or the database refuses again. Returns how many were applied."""
    directory = spool_dir()
    if not directory.is_dir():
        return 0
    with open(directory / ".replay.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another worker is replaying
        applied = 0
        for path in pending():
            outcome = _replay_one(path)
            if outcome is None:
                break
            applied += outcome
        if applied:
            log.info("已重放暂存的告警 %d 条", applied)
        return applied


def _replay_one(path: Path) -> int | None:
    """1 when the post was applied and removed, 0 when it could never be (set aside as
    `.rejected`), None when the database still refuses (stop, keep the order)."""
    entry = json.loads(path.read_text(encoding="utf-8"))
    ctx = RequestContext(principal=None, ip=entry.get("ip", ""),
                         request_id=entry.get("request_id", ""),
                         user_agent=entry.get("user_agent", ""))
    received_at = dt.datetime.fromisoformat(entry["received_at"])
    try:
        db.run_in_transaction(service.receive_spooled, ctx, entry["body"], received_at)
    except DATABASE_UNAVAILABLE as error:
        log.warning("数据库仍不可用，暂存的告警稍后重放：%s", str(error).strip()[:200])
        return None
    except ValidationError as error:
        log.error("暂存的告警无法应用，已移出队列（%s）：%s", path.name, error.message)
        path.rename(path.with_name(path.name + REJECTED_SUFFIX))
        return 0
    path.unlink()
    return 1


def schedule_replay(application: Any) -> None:
    """Every worker replays the spool every few seconds; a tick with an empty spool costs one
    directory listing."""
    every(application, REPLAY_SECONDS, replay, name="replaying spooled alerts", mode="own",
          only_if=lambda: bool(pending()))
