"""The hash chain, rebuilt in Python from the stored rows: the verifier.

The database computes each row's hash when it appends the row (migrations/0001_audit_event.sql,
`audit_event_canonical`); this module recomputes it independently from what is stored, so a
change to any field, a removed row or a re-linked row shows up. The canonical text is:

    'oa-audit-v1' + field(id) + field(occurred_at as UTC 'YYYY-MM-DDTHH:MM:SS.ffffffZ')
    + field(actor_id) + field(actor_username) + field(actor_name) + field(ip)
    + field(user_agent) + field(request_id) + field(action) + field(object_type)
    + field(object_id) + field(outcome) + field(details as PostgreSQL's jsonb text)
    + field(prev_hash)

where field(v) is '~' for NULL, else '<UTF-8 byte length>:<v>'. Every part round-trips: ids
and text are stored as given, timestamptz keeps microseconds, and jsonb's text output is
deterministic for a stored value (keys in jsonb order, fixed spacing, numbers exactly as stored
in numeric), so no re-serialisation of floats or key order is involved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from app.core.db import database

VERSION_TAG = "oa-audit-v1"
COLUMNS = ("id", "occurred_at", "actor_id", "actor_username", "actor_name", "ip", "user_agent",
           "request_id", "action", "object_type", "object_id", "outcome", "details", "prev_hash",
           "hash")
_SELECT = (
    "SELECT id, occurred_at, actor_id, actor_username, actor_name, ip, user_agent, request_id,"
    " action, object_type, object_id, outcome, details::text, prev_hash, hash"
    " FROM audit_event WHERE id > %s AND id <= %s ORDER BY id LIMIT %s"
)

REASONS = {
    "content": "内容被篡改（重新计算的哈希与记录的哈希不符）",
    "link": "链接断开（前一条记录的哈希与本条记录的 prev_hash 不符，前一条记录可能被替换）",
    "gap": "记录缺失（编号不连续，此编号之前的记录被删除）",
    "anchor": "链的起点不符（第一条记录未接在锚点之后）",
    "tail": "链尾记录缺失（链头登记的最后一条记录不存在）",
    "head": "链尾与链头登记不符（最后一条记录的哈希与链头不一致）",
}


def _field(value: str | None) -> str:
    if value is None:
        return "~"
    return f"{len(value.encode('utf-8'))}:{value}"


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: dict[str, Any]) -> str:
    """The canonical text of a stored row (`details` as the jsonb text PostgreSQL returns)."""
    parts = [
        str(row["id"]), utc_text(row["occurred_at"]),
        None if row["actor_id"] is None else str(row["actor_id"]),
        row["actor_username"], row["actor_name"], row["ip"], row["user_agent"],
        row["request_id"], row["action"], row["object_type"], row["object_id"], row["outcome"],
        row["details"], row["prev_hash"],
    ]
    return VERSION_TAG + "".join(_field(part) for part in parts)


def row_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(row).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainHead:
    last_id: int
    last_hash: str
    anchor_id: int
    anchor_hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # rows whose hash and link were checked
    first_bad_id: int | None = None
    reason: str = ""  # a key of REASONS
    head: ChainHead | None = None

    @property
    def message(self) -> str:
        if self.ok:
            return f"审计日志完整：共校验 {self.checked} 条记录，哈希链未被破坏。"
        return (f"审计日志已被破坏：第一条异常记录编号 {self.first_bad_id}，"
                f"原因：{REASONS[self.reason]}。已校验 {self.checked} 条。")


def read_head() -> ChainHead:
    row = database.execute_sql(
        "SELECT last_id, last_hash, anchor_id, anchor_hash FROM audit_chain WHERE singleton"
    ).fetchone()
    if row is None:  # head row missing (only after an owner emptied it): start at genesis
        return ChainHead(0, "0" * 64, 0, "0" * 64)
    return ChainHead(*row)


def iter_rows(after_id: int, up_to_id: int, batch_size: int) -> Iterator[dict[str, Any]]:
    """Stored rows with after_id < id <= up_to_id in id order, fetched in keyset batches."""
    cursor_id = after_id
    while True:
        batch = database.execute_sql(_SELECT, (cursor_id, up_to_id, batch_size)).fetchall()
        for values in batch:
            yield dict(zip(COLUMNS, values, strict=True))
        if len(batch) < batch_size:
            return
        cursor_id = batch[-1][0]


def verify_chain(*, batch_size: int = 5000,
                 progress: Callable[[int], None] | None = None) -> VerifyResult:
    """Walk the whole chain in id order; the first broken row and why, or OK with the count.

    Blocking; run inside a transaction (`run_in_transaction`). Rows appended after the chain
    head was read are left for the next run. `progress(n)` is called after each batch of n.
    """
    head = read_head()
    expected_id, expected_prev, checked = head.anchor_id + 1, head.anchor_hash, 0
    pending_progress = 0
    for row in iter_rows(head.anchor_id, head.last_id, batch_size):
        failure = _check(row, expected_id, expected_prev, at_start=checked == 0)
        if failure:
            return VerifyResult(False, checked, row["id"], failure, head)
        checked += 1
        expected_id, expected_prev = row["id"] + 1, row["hash"]
        pending_progress += 1
        if progress and pending_progress >= batch_size:
            progress(pending_progress)
            pending_progress = 0
    if progress and pending_progress:
        progress(pending_progress)
    if expected_id <= head.last_id:
        return VerifyResult(False, checked, expected_id, "tail", head)
    if head.last_id > head.anchor_id and expected_prev != head.last_hash:
        return VerifyResult(False, checked, head.last_id, "head", head)
    return VerifyResult(True, checked, head=head)


def _check(row: dict[str, Any], expected_id: int, expected_prev: str, at_start: bool) -> str:
    if row["id"] != expected_id:
        return "gap"
    if row["prev_hash"] != expected_prev:
        return "anchor" if at_start else "link"
    if row_hash(row) != row["hash"]:
        return "content"
    return ""
