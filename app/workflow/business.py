"""What the todo centre shows about the business object behind an instance.

The feature owning a `business_type` registers how its objects are shown (usually in its
on_start): their kind (发文), the URL of an object's own page, and what to show when the object
has no reference yet. The reference itself (a 公文's 文号) is kept on the instance by that
feature's database triggers (`wf_instance.business_reference`, workflow migration 0004), so the
todo lists, the instance page and the portal widgets read it with their own rows: asking the
feature in a statement of its own was one more round trip on every list page (bench/README.md,
finding 71). The engine stays ignorant of what the objects are. A description reveals no more
than the list already does (a reference and a link).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BusinessKind:
    kind: str  # "发文"
    url: str  # the object's page, with {id} for its business id: "/documents/{id}"
    blank: str = ""  # shown while the object has no reference ("待签收")


_kinds: dict[str, BusinessKind] = {}


def register_business(business_type: str, kind: BusinessKind) -> None:
    _kinds[business_type] = kind


def unregister_business(business_type: str) -> None:
    _kinds.pop(business_type, None)


def describe(business_type: str, business_id: str, reference: str) -> dict[str, str] | None:
    """{"kind": "发文", "reference": "X公发〔2026〕7号", "url": "/documents/7"}, or None for a
    type nobody registered."""
    shown = _kinds.get(business_type)
    if shown is None or not business_id:
        return None
    return {"kind": shown.kind, "reference": reference or shown.blank,
            "url": shown.url.format(id=business_id)}


def attach(items: list[dict[str, Any]], references: Iterable[str]) -> None:
    """Add "business" (a description or None) to list items carrying business_type/_id, given
    their instances' business_reference in the same order."""
    for item, reference in zip(items, references, strict=True):
        item["business"] = describe(item.get("business_type", ""), item.get("business_id", ""),
                                    reference)
