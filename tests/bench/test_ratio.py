"""The todo-list ratio takes its two sides in turns (A B, B A, ...), so that a machine whose
speed drifts during the measurement slows both sides alike (finding 69)."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import time

import aiohttp
import pytest
from aiohttp import web

from bench import run
from bench.procstat import ProcessGroup


async def _serve(arrivals: list[tuple[float, str]], name: str) -> tuple[web.AppRunner, str]:
    async def answer(_: web.Request) -> web.Response:
        arrivals.append((time.monotonic(), name))
        return web.json_response({"items": []})

    app = web.Application()
    app.router.add_get("/todo", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # a port the kernel chose
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}/todo"


async def _measure(arrivals: list[tuple[float, str]]) -> dict:
    runners, sides = [], []
    own = ProcessGroup.of_parent(os.getpid())
    for name in ("ceiling", "platform"):
        runner, url = await _serve(arrivals, name)
        runners.append(runner)
        sides.append((name, [url], [""], own))
    connector = aiohttp.TCPConnector(limit=0)
    try:
        return await run.measure_ratio(sides, 1.2, 4, connector, own)
    finally:
        await connector.close()
        for runner in runners:
            await runner.cleanup()


def test_the_two_sides_take_turns_and_each_gets_its_time(monkeypatch) -> None:
    monkeypatch.setattr(run, "RATIO_TURN_SECONDS", 0.3)  # 4 rounds of 0.3 s a side
    monkeypatch.setattr(run, "RATIO_SETTLE_SECONDS", 0.05)
    arrivals: list[tuple[float, str]] = []
    measured = asyncio.run(_measure(arrivals))
    order = [name for name, _ in itertools.groupby(name for _, name in sorted(arrivals))]
    # A B | B A | A B | B A: the second side opens every other round
    assert order == ["ceiling", "platform", "ceiling", "platform", "ceiling"]
    assert len(measured["turns"]) == 4 and all(t > 0 for t in measured["turns"])
    for name in ("ceiling", "platform"):
        side = measured[name]
        answered = sum(1 for _, who in arrivals if who == name)
        assert side["requests"] == answered and side["errors"] == 0
        assert side["rps"] == pytest.approx(answered / 1.2, rel=0.25)
