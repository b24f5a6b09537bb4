"""Run the catalogue's checks against the servers, read-only, one thread per server."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from ops_cli.compliance.catalogue import Catalogue, Control
from ops_cli.compliance.checks import all_checks
from ops_cli.compliance.hosts import CheckError, Evidence, HostContext, InventoryHost, Session

PASS, FAIL, CONFIG_ONLY, PENDING, NOT_APPLICABLE, ERROR = (
    "pass", "fail", "config-only", "pending", "not-applicable", "error")
STATUS_ZH = {PASS: "符合", FAIL: "不符合", CONFIG_ONLY: "仅核查配置（lab）", PENDING: "尚未实施",
             NOT_APPLICABLE: "不适用", ERROR: "检查出错"}
TEMPLATE = re.compile(r"^\{\{\s*(\w+)\s*\}\}$")


@dataclass
class Finding:
    control: str
    clause: str
    target: str
    host: str
    title: str
    status: str
    detail: str
    lab_mode: str
    enforcement: str
    evidence: list[Evidence] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status_zh"] = STATUS_ZH[self.status]
        return data


def applies(control_hosts: tuple[str, ...], host: InventoryHost) -> bool:
    return any(group in host.groups for group in control_hosts)


def _resolve(value: Any, hostvars: dict[str, Any]) -> Any:
    """The lab's group_vars refer to generated variables ("{{ lab_controller_address }}")."""
    if isinstance(value, list):
        return [_resolve(v, hostvars) for v in value]
    if isinstance(value, str) and (m := TEMPLATE.match(value)):
        return hostvars.get(m.group(1), value)
    return value


def extra_vars(hosts: list[InventoryHost]) -> dict[str, Any]:
    backups = [h.address for h in hosts if "backupservers" in h.groups]
    return {"backup_addresses": backups}


def enforcement_text(control: Control) -> str:
    if control.pending:
        return f"待实施：{control.pending}"
    return f"角色 {control.role}，标签 {', '.join(control.tags)}"


def run_control(session: Session, control: Control, lab: bool,
                shared: dict[str, Any]) -> Finding:
    config_only = lab and control.lab_config_only is not None
    hv = session.host.vars
    context = HostContext(session, runtime=not config_only, lab=lab, extra_vars={
        **shared, "hardening_management_addresses":
            _resolve(hv.get("hardening_management_addresses"), hv)})
    started = time.monotonic()
    try:
        verdict = all_checks()[control.check](context, control.params)
        status = (PENDING if control.pending else
                  FAIL if not verdict.ok else CONFIG_ONLY if config_only else PASS)
        detail = verdict.detail
    except (CheckError, ValueError, KeyError, IndexError, OSError) as exc:
        status, detail = ERROR, f"检查无法完成：{exc}"
    except Exception as exc:  # an SSH failure must not stop the other checks
        status, detail = ERROR, f"检查无法完成（{type(exc).__name__}）：{exc}"
    return Finding(control.id, control.clause, control.target, session.host.name, control.title,
                   status, detail, control.lab_mode, enforcement_text(control), context.evidence,
                   round(time.monotonic() - started, 2))


def not_applicable(catalogue: Catalogue, clause: str | None,
                   hosts: list[InventoryHost]) -> list[Finding]:
    from ops_cli.compliance.catalogue import clause_matches

    found = []
    for na in catalogue.not_applicable:
        if clause and not clause_matches(na.clause, clause):
            continue
        groups = tuple(catalogue.targets[na.target]["hosts"])
        for host in hosts:
            if applies(groups, host):
                found.append(Finding("—", na.clause, na.target, host.name,
                                     catalogue.clauses[na.clause].title, NOT_APPLICABLE,
                                     na.reason, "—", "—"))
    return found


@dataclass
class Plan:
    sessions: dict[str, Session]
    work: dict[str, list[Control]]

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.work.values())


def plan(catalogue: Catalogue, clause: str | None, sessions: dict[str, Session]) -> Plan:
    controls = catalogue.select(clause)
    work = {name: [c for c in controls if applies(c.hosts, s.host)]
            for name, s in sessions.items()}
    return Plan(sessions, work)


def execute(the_plan: Plan, lab: bool, shared: dict[str, Any],
            tick: Callable[[Finding], None]) -> list[Finding]:
    def one_host(name: str) -> list[Finding]:
        results = []
        for control in the_plan.work[name]:
            finding = run_control(the_plan.sessions[name], control, lab, shared)
            tick(finding)
            results.append(finding)
        return results

    with ThreadPoolExecutor(max_workers=max(1, len(the_plan.sessions))) as pool:
        batches = list(pool.map(one_host, sorted(the_plan.sessions)))
    return [f for batch in batches for f in batch]


def now_text() -> str:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S %z")
