"""What the todo centre shows about the business object behind an instance.

The feature owning a `business_type` registers a describer (usually in its on_start): given
business ids, it returns for each a short reference (e.g. a 公文's 文号) and the URL of the
object's own page. The todo lists, the instance page and the portal widgets show them; the
engine stays ignorant of what the objects are. Describers run in the caller's transaction
and must not reveal more than the list already does (a reference and a link).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# business ids -> {business id: {"reference": "X公发〔2026〕7号", "url": "/documents/7",
#                               "kind": "发文"}}
Describer = Callable[[list[str]], dict[str, dict[str, str]]]
_describers: dict[str, Describer] = {}


def register_business(business_type: str, describe: Describer) -> None:
    _describers[business_type] = describe


def unregister_business(business_type: str) -> None:
    _describers.pop(business_type, None)


def describe(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    """(business_type, business_id) -> its description, for the types that registered one."""
    wanted: dict[str, list[str]] = {}
    for business_type, business_id in pairs:
        if business_type in _describers and business_id:
            wanted.setdefault(business_type, []).append(business_id)
    found: dict[tuple[str, str], dict[str, str]] = {}
    for business_type, ids in wanted.items():
        for business_id, info in _describers[business_type](sorted(set(ids))).items():
            found[(business_type, business_id)] = info
    return found


def attach(items: list[dict[str, Any]]) -> None:
    """Add "business" (a description or None) to list items carrying business_type/_id."""
    found = describe((i.get("business_type", ""), i.get("business_id", "")) for i in items)
    for item in items:
        item["business"] = found.get((item.get("business_type", ""),
                                      item.get("business_id", "")))
