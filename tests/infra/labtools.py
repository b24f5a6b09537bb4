"""Helpers of the lab tests: the lab command as a subprocess, the root namespace's network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


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
