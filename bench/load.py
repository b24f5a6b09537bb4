"""The load generator: virtual staff in one asyncio process (aiohttp).

Why an asyncio client and not Locust: on this 2-core machine the load generator shares the CPU
with the application and PostgreSQL. Locust's gevent users, its stats pipeline and its web UI
cost several times the CPU of a bare aiohttp request per request; a single asyncio process is
the lightest honest client, and its own CPU is measured and reported so the figures can be read
against it.

A virtual user (VirtualUser) logs in once through /login with the right password (so the
captcha, which appears only after a failure, is never asked), keeps its cookies, and then loops
with think times through a weighted mix of what the bureau's staff do. A page view also asks
for each nav badge the page came without (app.js does the same); pages carry their badges'
counts (finding 42), so normally it asks none.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

import aiohttp

from bench.samples import Sample

TASK_LINK = re.compile(r'href="/workflow/tasks/(\d+)"')
INSTANCE_LINK = re.compile(r'href="/workflow/(?:tasks|instances)/(\d+)"')
UNCOUNTED_BADGE = re.compile(r'data-badge-url="([^"]+)"(?! data-badge-counted)')
XSRF_FIELD = re.compile(r'name="_xsrf" value="([^"]+)"')
ERROR_TEXT = re.compile(r'(?:class="[^"]*error[^"]*"[^>]*>|"message": ")([^<"]{1,200})')

# action -> weight (per think-time cycle); the names are the report's rows
MIX = {
    "portal": 20,          # open the work portal (widgets: todo, my approvals, ...)
    "todo_list": 22,       # the 待办 page
    "open_task": 18,       # a 公文 task page: the instance, its form, its full history
    "approve": 10,         # 同意 with a comment on one of my open tasks
    "done_list": 6,        # 已办, then open one of them (an instance with its history)
    "addressbook": 16,     # search colleagues by pinyin initials / name
    "draft": 8,            # a new 发文稿纸, then 提交 into the 发文 flow
}
SEARCHES = ["w", "l", "zh", "wang", "li", "zhang", "chen", "zw", "ly", "liu", "办公室", "刑侦"]


@dataclass
class Recorder:
    """Samples of the current measuring window; None = not measuring (ramp-up)."""

    samples: list[Sample] | None = None
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    messages: dict[str, str] = field(default_factory=dict)  # first error message per kind

    def add(self, action: str, latency: float, ok: bool, status: int, text: str = "",
            size: int = 0) -> None:
        if self.samples is not None:
            self.samples.append(Sample(action, latency, ok, status, size, time.time()))
            if not ok:
                kind = f"{action}:{status}"
                self.errors[kind] += 1
                if kind not in self.messages:
                    found = ERROR_TEXT.search(text)
                    self.messages[kind] = (found.group(1) if found else text[:120]).strip()

    def take(self, measuring: bool) -> tuple[list[Sample], dict[str, int], dict[str, str]]:
        """What was recorded since the last take (samples, errors per kind, the first message
        per kind), and a fresh start: measuring the next phase or not."""
        taken = (self.samples or [], dict(self.errors), dict(self.messages))
        self.samples = [] if measuring else None
        self.errors.clear()
        self.messages.clear()
        return taken


class VirtualUser:
    """One member of staff. With `connector` None it has connections of its own, kept alive
    between clicks, as a browser has; sharing one pool among all the users let a few
    connections carry everyone's requests, and the kernel (SO_REUSEPORT spreads connections,
    not requests) put most of them on one worker while the other idled (finding 50)."""

    def __init__(self, base: str, username: str, password: str,
                 connector: aiohttp.BaseConnector | None, recorder: Recorder,
                 rng: random.Random, think: float) -> None:
        self.base, self.username, self.password = base, username, password
        self.recorder, self.rng, self.think = recorder, rng, think
        self.session = aiohttp.ClientSession(
            connector=connector or aiohttp.TCPConnector(limit=6, keepalive_timeout=75),
            connector_owner=connector is None, cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=30))
        self.tasks: list[int] = []
        self.seen: list[int] = []

    async def close(self) -> None:
        await self.session.close()

    def cookie_header(self) -> str:
        """The Cookie header this user's browser sends (after signing in)."""
        return "; ".join(f"{cookie.key}={cookie.value}" for cookie in self.session.cookie_jar)

    def _xsrf(self) -> str:
        for cookie in self.session.cookie_jar:
            if cookie.key == "_xsrf":
                return cookie.value
        return ""

    async def _call(self, action: str, method: str, path: str, *, expect: tuple[int, ...],
                    record: bool = True, **kwargs) -> tuple[int, str]:
        started = time.perf_counter()
        status, text, size = 0, "", 0
        try:
            async with self.session.request(method, self.base + path, allow_redirects=False,
                                            **kwargs) as response:
                status = response.status
                text = await response.text()
                size = len(text.encode())
        except (TimeoutError, aiohttp.ClientError):
            status = 0
        if record:
            self.recorder.add(action, time.perf_counter() - started, status in expect, status,
                              text if status not in expect else "", size)
        return status, text

    async def login(self) -> bool:
        status, page = await self._call("login", "GET", "/login", expect=(200,))
        match = XSRF_FIELD.search(page)
        if status != 200 or not match:
            return False
        status, _ = await self._call(
            "login", "POST", "/login", expect=(302,),
            data={"username": self.username, "password": self.password, "_xsrf": match.group(1)})
        return status == 302

    async def page(self, action: str, path: str) -> str:
        """An HTML page as a browser loads it: the page, then any badge it came without."""
        status, text = await self._call(action, "GET", path, expect=(200,))
        for url in UNCOUNTED_BADGE.findall(text):
            await self._call("badge", "GET", url, expect=(200,))
        return text if status == 200 else ""

    # ---- the staff's actions -------------------------------------------------------------
    async def portal(self) -> None:
        self.tasks = [int(t) for t in TASK_LINK.findall(await self.page("portal", "/"))]

    async def todo_list(self) -> None:
        self.tasks = [int(t) for t in TASK_LINK.findall(await self.page("todo_list", "/todo"))]

    async def open_task(self) -> None:
        if not self.tasks:
            await self.todo_list()
        if self.tasks:
            await self.page("open_task", f"/workflow/tasks/{self.rng.choice(self.tasks)}")
        elif self.seen:
            await self.page("open_task", f"/workflow/instances/{self.rng.choice(self.seen)}")

    async def approve(self) -> None:
        if not self.tasks:
            await self.todo_list()
        if not self.tasks:
            return
        task_id = self.tasks.pop(0)
        text = await self.page("open_task", f"/workflow/tasks/{task_id}")
        match = XSRF_FIELD.search(text)
        if not match:
            return
        await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.think / 2)  # reading, typing
        await self._call("approve", "POST", f"/workflow/tasks/{task_id}/approve", expect=(302,),
                         data={"comment": self.rng.choice(["同意。", "拟同意，请领导审批。",
                                                           "请按规定办理。"]),
                               "_xsrf": match.group(1)})

    async def done_list(self) -> None:
        text = await self.page("done_list", "/todo/done")
        tasks = [int(t) for t in TASK_LINK.findall(text)]
        if tasks:
            await asyncio.sleep(self.rng.uniform(0.2, 1.0) * self.think / 2)
            await self.page("open_task", f"/workflow/tasks/{self.rng.choice(tasks)}")

    async def addressbook(self) -> None:
        query = self.rng.choice(SEARCHES)
        await self.page("addressbook", f"/addressbook?q={query}")

    async def draft(self) -> None:
        body = {"title": f"关于{self.rng.choice(['值班备勤', '节日安保', '消防检查'])}工作的通知",
                "doc_type": "通知", "urgency": "普通", "main_to": "各分局、各支队",
                "main_to_copies": "12", "keywords": "工作 通知",
                "contact_phone": "0312-5551234"}
        status, text = await self._call("draft", "POST", "/api/documents", expect=(200, 201),
                                        json=body, headers={"X-XSRFToken": self._xsrf()})
        if status not in (200, 201):
            return
        doc_id = json.loads(text)["id"]
        await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.think / 2)  # re-reading the draft
        await self._call("submit", "POST", f"/documents/{doc_id}/submit", expect=(302,),
                         data={"comment": "请审核。", "_xsrf": self._xsrf()})

    async def run(self, stop_at: float) -> None:
        actions = list(MIX)
        weights = [MIX[a] for a in actions]
        # The first click comes after a think time like every later one. With exponential
        # think times that keeps the staff's clicks an even stream from the start; a uniform
        # first wait bunched them, to 1.6 times the steady rate one think time in, which was
        # the first measured window's tail (bench/README.md, finding 51).
        await asyncio.sleep(self.rng.expovariate(1 / self.think))
        while time.monotonic() < stop_at:
            action = self.rng.choices(actions, weights)[0]
            await getattr(self, action)()
            await asyncio.sleep(self.rng.expovariate(1 / self.think))


async def closed_loop(urls: list[str], cookies: list[str], seconds: float, concurrency: int,
                      connector: aiohttp.BaseConnector) -> tuple[int, int, list[float]]:
    """Requests back to back (no think time) from `concurrency` workers: throughput. Worker i
    sends `cookies[i % len(cookies)]` as its Cookie header ('' for none), fixed as a browser's
    is between two sign-ins: an aiohttp CookieJar filters its cookies for every request, and
    on the same two cores that client work was taken from the server (finding 64)."""
    stop_at = time.monotonic() + seconds
    latencies: list[float] = []
    errors = 0

    async def worker(index: int) -> None:
        nonlocal errors
        cookie = cookies[index % len(cookies)]
        async with aiohttp.ClientSession(connector=connector, connector_owner=False,
                                         cookie_jar=aiohttp.DummyCookieJar(),
                                         headers={"Cookie": cookie} if cookie else None
                                         ) as session:
            i = index
            while time.monotonic() < stop_at:
                url = urls[i % len(urls)]
                i += concurrency
                started = time.perf_counter()
                try:
                    async with session.get(url, allow_redirects=False) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += 0 if ok else 1

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return len(latencies), errors, latencies
