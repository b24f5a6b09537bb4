"""The compliance checks of the backup controls, on canned host output (no lab): each fails on
the state it exists to find."""

from __future__ import annotations

import time
from typing import Any

from ops_cli.backup import agent
from ops_cli.compliance.checks import all_checks
from tests.hardening.test_checks import FakeContext

TIMERS = {"systemctl is-enabled": "enabled", "systemctl is-active": "active"}
PARAMS = {"kinds": ["files"], "timers": ["oa-backup-files.timer"], "max_age_hours": 26}


def _metrics(ok: bool, age_hours: float) -> str:
    now = time.time()
    return agent.metrics_text("files", now, 3.0, ok, now - age_hours * 3600)


def _verdict(check: str, answers: dict[str, str], params: dict[str, Any]) -> Any:
    return all_checks()[check](FakeContext(answers), params)


def test_last_run_passes_when_recent_and_successful() -> None:
    answers = {**TIMERS, "cat /var/lib/prometheus": _metrics(True, 2)}
    assert _verdict("backup.last_run", answers, PARAMS).ok


def test_last_run_fails_when_stale_failed_or_unscheduled() -> None:
    stale = {**TIMERS, "cat /var/lib/prometheus": _metrics(True, 30)}
    assert "超过 26 小时" in _verdict("backup.last_run", stale, PARAMS).detail
    failed = {**TIMERS, "cat /var/lib/prometheus": _metrics(False, 2)}
    assert not _verdict("backup.last_run", failed, PARAMS).ok
    unscheduled = {"systemctl is-enabled": "disabled", "systemctl is-active": "inactive"}
    assert not _verdict("backup.last_run", unscheduled, PARAMS).ok


def test_append_only_refuses_an_unrestricted_key() -> None:
    forced = ('command="borg serve --append-only --restrict-to-path /srv/borg/repos/db",restrict '
              "ssh-ed25519 AAAA oa-backup@db")
    params = {"home": "/srv/borg", "timers": ["oa-backup-prune.timer"]}
    assert _verdict("backup.append_only", {**TIMERS, "cat /srv/borg": forced}, params).ok
    loose = forced + "\nssh-ed25519 BBBB someone@elsewhere"
    assert not _verdict("backup.append_only", {**TIMERS, "cat /srv/borg": loose}, params).ok


def test_comment_braces_stay_literal_for_borg() -> None:
    text = agent.Manifest("db", "db", "t", tables={"public.t": 1}).to_json()
    assert agent._literal(text).format() == text  # borg formats the comment once
