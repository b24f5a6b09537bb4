"""Load and validate hardening/catalogue.yml: the one list of 等保三级 controls that the
`hardening` role's tags enforce and `oa-ops compliance check` verifies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CATALOGUE_FILE = Path(__file__).resolve().parents[2] / "hardening" / "catalogue.yml"
CLAUSE_RE = re.compile(r"^8\.1\.(4\.(?:[1-9]|1[01])|5\.[1-4])\.[a-g]$")
ID_RE = re.compile(r"^L3-(HOST|DB|NGX|APP)-[A-Z]+-\d{2}$")
TARGET_PREFIX = {"host": "HOST", "postgresql": "DB", "nginx": "NGX", "application": "APP"}
CONFIG_ONLY = "config-only:"


class CatalogueError(ValueError):
    """The catalogue does not follow its schema (the message names the entry)."""


@dataclass(frozen=True)
class Control:
    id: str
    clause: str
    target: str
    title: str
    rationale: str
    check: str
    hosts: tuple[str, ...]
    role: str | None
    tags: tuple[str, ...]
    pending: str | None
    lab_config_only: str | None  # the reason, when the lab can verify only the configuration
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def lab_mode(self) -> str:
        return f"config-only（{self.lab_config_only}）" if self.lab_config_only else "runtime"


@dataclass(frozen=True)
class NotApplicable:
    clause: str
    target: str
    reason: str


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    test_item: str


@dataclass(frozen=True)
class Catalogue:
    standard: str
    clauses: dict[str, Clause]
    targets: dict[str, dict[str, Any]]
    controls: tuple[Control, ...]
    not_applicable: tuple[NotApplicable, ...]

    def control(self, control_id: str) -> Control:
        for control in self.controls:
            if control.id == control_id:
                return control
        raise KeyError(control_id)

    def select(self, clause_prefix: str | None) -> tuple[Control, ...]:
        """The controls of a clause ('8.1.4.1' or '8.1.4.1.a'; never 8.1.4.10 for 8.1.4.1)."""
        if not clause_prefix:
            return self.controls
        return tuple(c for c in self.controls if clause_matches(c.clause, clause_prefix))


def clause_matches(clause: str, prefix: str) -> bool:
    prefix = prefix.strip().rstrip(".")
    return clause == prefix or clause.startswith(prefix + ".")


def _require(entry: dict[str, Any], key: str, where: str) -> Any:
    value = entry.get(key)
    if value in (None, "", [], {}):
        raise CatalogueError(f"{where}: 缺少 {key}")
    return value


def _lab(value: Any, where: str) -> str | None:
    if value == "runtime":
        return None
    if isinstance(value, str) and value.startswith(CONFIG_ONLY):
        reason = value[len(CONFIG_ONLY):].strip()
        if reason:
            return reason
    raise CatalogueError(f"{where}: lab 应为 runtime 或 'config-only: 原因'，而不是 {value!r}")


def _control(entry: dict[str, Any], clauses: dict[str, Clause],
             targets: dict[str, dict[str, Any]]) -> Control:
    cid = _require(entry, "id", "controls")
    if not ID_RE.match(cid):
        raise CatalogueError(f"{cid}: 编号格式应为 L3-<HOST|DB|NGX|APP>-<类>-<两位数字>")
    clause, target = _require(entry, "clause", cid), _require(entry, "target", cid)
    if clause not in clauses:
        raise CatalogueError(f"{cid}: 条款 {clause} 不在 clauses 中")
    if target not in targets:
        raise CatalogueError(f"{cid}: 对象 {target} 不在 targets 中")
    if cid.split("-")[1] != TARGET_PREFIX[target]:
        raise CatalogueError(f"{cid}: 编号前缀与对象 {target} 不符")
    enforcement = _require(entry, "enforcement", cid)
    pending = enforcement.get("pending")
    role, tags = enforcement.get("role"), tuple(enforcement.get("tags") or ())
    if not pending and not (role and tags):
        raise CatalogueError(f"{cid}: enforcement 需要 role 与 tags，或 pending 说明")
    hosts = tuple(entry.get("hosts") or targets[target]["hosts"])
    return Control(
        id=cid, clause=clause, target=target, title=_require(entry, "title", cid),
        rationale=_require(entry, "rationale", cid), check=_require(entry, "check", cid),
        hosts=hosts, role=role, tags=tags, pending=pending,
        lab_config_only=_lab(entry.get("lab"), cid), params=dict(entry.get("params") or {}))


def parse(data: dict[str, Any]) -> Catalogue:
    clauses: dict[str, Clause] = {}
    for cid, info in (data.get("clauses") or {}).items():
        if not CLAUSE_RE.match(str(cid)):
            raise CatalogueError(f"clauses: {cid} 不是 GB/T 22239-2019 8.1.4/8.1.5 的条款")
        clauses[cid] = Clause(cid, _require(info, "title", cid), str(info.get("test_item", "")))
    targets = data.get("targets") or {}
    controls = tuple(_control(e, clauses, targets) for e in data.get("controls") or [])
    ids = [c.id for c in controls]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CatalogueError(f"控制项编号重复：{', '.join(duplicates)}")
    not_applicable = tuple(
        NotApplicable(_require(e, "clause", "not_applicable"), _require(e, "target", "n/a"),
                      _require(e, "reason", f"not_applicable {e.get('clause')}"))
        for e in data.get("not_applicable") or [])
    for na in not_applicable:
        if na.clause not in clauses or na.target not in targets:
            raise CatalogueError(f"not_applicable: 未知的条款或对象 {na.clause}/{na.target}")
    return Catalogue(str(data.get("standard", "")), clauses, targets, controls, not_applicable)


def load(path: Path = CATALOGUE_FILE) -> Catalogue:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"无法读取控制项目录 {path}：{exc}") from exc
    if not isinstance(data, dict):
        raise CatalogueError(f"{path} 不是一个映射")
    return parse(data)


def coverage_gaps(catalogue: Catalogue) -> list[tuple[str, str]]:
    """(clause, target) pairs with neither a control nor a reasoned not-applicable."""
    covered = {(c.clause, c.target) for c in catalogue.controls}
    excused = {(n.clause, n.target) for n in catalogue.not_applicable}
    return [(clause, target) for clause in catalogue.clauses for target in catalogue.targets
            if (clause, target) not in covered | excused]
