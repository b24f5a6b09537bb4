"""The benchmark's CPU figures count the work of processes that ended during a step."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.procstat import ProcessGroup

# Waits for a line, then runs a child that burns 0.4 s of CPU and exits; the parent reaps it
# (as the postmaster reaps a backend whose connection the pool closed) and says so.
_PARENT = """
import subprocess, sys
sys.stdin.readline()
burn = "import time\\nend = time.process_time() + 0.4\\nwhile time.process_time() < end: pass"
subprocess.run([sys.executable, "-c", burn], check=True)
print("reaped", flush=True)
sys.stdin.readline()
"""


def test_a_child_that_ended_between_two_marks_still_counts() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        group = ProcessGroup(parent.pid)
        group.mark()
        started = time.monotonic()
        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "reaped"
        used_seconds = group.cpu_share() * (time.monotonic() - started)
        assert used_seconds >= 0.3, f"只计到 {used_seconds:.2f} 秒 CPU，已结束的子进程没有算进去"
    finally:
        parent.stdin.close()
        parent.wait(timeout=10)
