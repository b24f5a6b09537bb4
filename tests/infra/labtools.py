"""Helpers of the lab tests: the lab command as a subprocess, the root namespace's network."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
APP_URL = "https://10.77.0.11"  # the app host at the default lab subnet
RUN_DIR = re.compile(r"运行日志与 artifacts：(\S+)")


def oa_deploy(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], float]:
    """Run `oa-ops deploy -i inventories/lab ARGS`; its result, final stats and wall time."""
    started = time.monotonic()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "oa-ops"), "deploy", "-i", "inventories/lab", *args],
        cwd=REPO, capture_output=True, text=True, timeout=1800, check=False,
        env={**os.environ, "COLUMNS": "160"},
    )
    elapsed = time.monotonic() - started
    print(f"oa-ops deploy {' '.join(args)}：{elapsed:.0f} 秒\n{result.stdout}")
    match = RUN_DIR.search(result.stdout)
    return result, (_stats(Path(match.group(1))) if match else {}), elapsed


def _stats(run_dir: Path) -> dict[str, Any]:
    for path in sorted((run_dir / "artifacts" / "ansible" / "job_events").glob("*.json")):
        event = json.loads(path.read_text())
        if event.get("event") == "playbook_on_stats":
            return event["event_data"]
    return {}


def lab_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run `oa-ops lab ARGS` as a separate process, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "ops_cli.lab", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
        check=False,
    )


def root_namespace_snapshot() -> dict[str, list[str]]:
    """The machine's own links, addresses and routes, without counters and lifetimes."""

    def ip_json(*args: str) -> list[dict[str, object]]:
        out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True)
        return json.loads(out.stdout or "[]")

    links = sorted(str(link["ifname"]) for link in ip_json("link", "show"))
    addrs = sorted(
        f"{link['ifname']} {a['family']} {a['local']}/{a['prefixlen']}"
        for link in ip_json("addr", "show")
        for a in link.get("addr_info", [])  # type: ignore[attr-defined]
    )
    routes = sorted(
        f"{r.get('dst')} via {r.get('gateway', '-')} dev {r.get('dev', '-')} {r.get('table', '')}"
        for family in ("-4", "-6")
        for r in ip_json(family, "route", "show", "table", "all")
    )
    return {"links": links, "addrs": addrs, "routes": routes}
