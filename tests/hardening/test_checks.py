"""The checker's own logic, on canned command output (no lab): a check fails on the broken
state it exists to find; the report counts pending controls as failures outside the lab only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops_cli.compliance import catalogue as cat
from ops_cli.compliance import report as report_mod
from ops_cli.compliance import runner
from ops_cli.compliance.checks import all_checks

NFT = """table inet oa_filter {
    set management {
        type ipv4_addr
        flags interval
        elements = { 10.77.0.1 }
    }
    chain input {
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        iif "lo" accept
        tcp dport 22 ip saddr @management accept comment "SSH"
        tcp dport 5432 ip saddr { 10.77.0.11, 10.77.0.12 } accept comment "PostgreSQL"
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
    }
}
"""


@dataclass
class Out:
    rc: int
    stdout: str
    stderr: str = ""


class FakeContext:
    def __init__(self, answers: dict[str, str], runtime: bool = True) -> None:
        self.answers = answers
        self.host, self.groups, self.runtime, self.lab = "db", ("all", "dbservers"), runtime, True
        self.commands: list[str] = []

    def run(self, command: str) -> Out:
        self.commands.append(command)
        for prefix, text in self.answers.items():
            if command.startswith(prefix):
                return Out(0, text)
        return Out(1, "", "not found")

    def os_family(self) -> str:
        return "Debian"

    def sql(self, query: str, database: str = "oa") -> list[list[str]]:
        raise AssertionError("no SQL here")

    def var(self, name: str, default: Any = None) -> Any:
        return {"hardening_management_addresses": ["10.77.0.1"]}.get(name, default)


def run(check: str, answers: dict[str, str], params: dict[str, Any] | None = None,
        runtime: bool = True) -> bool:
    return all_checks()[check](FakeContext(answers, runtime), params or {}).ok  # type: ignore[arg-type]


def test_root_login_by_password_fails_the_control() -> None:
    params = {"allowed": {"permitrootlogin": ["no", "prohibit-password", "without-password"]}}
    assert run("host.sshd_options", {"sshd -T": "permitrootlogin without-password\n"}, params)
    assert not run("host.sshd_options", {"sshd -T": "permitrootlogin yes\n"}, params)
    assert not run("host.sshd_options", {}, params)  # sshd -T failing is no pass


def test_shadow_readable_by_others_fails() -> None:
    params = {"path": "/etc/shadow", "max_mode": "0600", "owner": "root"}
    assert run("host.file_mode", {"stat": "600 root shadow"}, params)
    assert run("host.file_mode", {"stat": "0 root root"}, params)
    assert not run("host.file_mode", {"stat": "644 root shadow"}, params)


def test_firewall_must_drop_by_default_and_scope_every_port() -> None:
    assert run("host.firewall_default_deny", {"nft list ruleset": NFT})
    assert not run("host.firewall_default_deny",
                   {"nft list ruleset": NFT.replace("policy drop", "policy accept", 1)})
    assert run("host.firewall_flows", {"nft list ruleset": NFT})
    open_port = NFT.replace('tcp dport 5432 ip saddr { 10.77.0.11, 10.77.0.12 } accept',
                            "tcp dport 5432 accept")
    assert not run("host.firewall_flows", {"nft list ruleset": open_port})


def test_faillock_must_be_in_the_auth_stack() -> None:
    conf = "deny = 5\nunlock_time = 1800\n"
    stack = ("auth requisite pam_faillock.so preauth\n"
             "auth [default=die] pam_faillock.so authfail\n")
    params = {"deny": 5, "unlock_time": 1800}
    answers = {"cat /etc/security/faillock.conf": conf, "cat /etc/pam.d/common-auth": stack}
    assert run("host.faillock", answers, params)
    answers["cat /etc/pam.d/common-auth"] = "auth required pam_unix.so\n"
    assert not run("host.faillock", answers, params)


def test_config_only_checks_read_files_not_the_kernel() -> None:
    rules = "-w /etc/passwd -p wa -k identity\n-e 2\n"
    ctx = FakeContext({"cat /etc/audit/rules.d/*.rules": rules}, runtime=False)
    assert all_checks()["host.audit_rules"](ctx, {"keys": ["identity"]}).ok  # type: ignore[arg-type]
    assert all(not c.startswith("auditctl") for c in ctx.commands)
    assert all_checks()["host.audit_immutable"](ctx, {}).ok  # type: ignore[arg-type]
    assert not run("host.audit_immutable", {"cat /etc/audit/rules.d": "-e 1\n"}, runtime=False)


def _finding(status: str) -> runner.Finding:
    return runner.Finding("L3-HOST-BAK-01", "8.1.4.9.a", "host", "db", "备份", status, "尚未实施",
                          "runtime", "待实施")


def test_pending_fails_only_outside_the_lab(tmp_path: Path) -> None:
    catalogue = cat.load()
    lab = report_mod.Report(catalogue, [_finding("pending")], "inventories/lab", True, "t", {},
                            None, 1.0)
    production = report_mod.Report(catalogue, [_finding("pending")], "inventories/production",
                                   False, "t", {}, None, 1.0)
    assert lab.failed() == [] and len(production.failed()) == 1
    written = report_mod.write(production, ["json", "html"], tmp_path, "r")
    data = json.loads(written[0].read_text())
    assert data["summary"]["failed"] == ["L3-HOST-BAK-01@db"]
    assert "尚未实施" in written[1].read_text()
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
