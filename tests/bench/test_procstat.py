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


def _seconds_counted(script: str, ready: str | None = None) -> float:
    """CPU seconds the group of a parent running `script` counts between a mark (taken once
    the parent prints `ready`, if given) and the parent's "reaped"."""
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        if ready is not None:
            assert parent.stdout.readline().strip() == ready
        group = ProcessGroup(parent.pid)
        group.mark()
        started = time.monotonic()
        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "reaped"
        return group.cpu_share() * (time.monotonic() - started)
    finally:
        parent.stdin.close()
        parent.wait(timeout=10)


def test_a_child_that_ended_between_two_marks_still_counts() -> None:
    used_seconds = _seconds_counted(_PARENT)
    assert used_seconds >= 0.3, f"只计到 {used_seconds:.2f} 秒 CPU，已结束的子进程没有算进去"


# A child burns 0.4 s, says so and waits (the mark is taken then), burns 0.2 s more and exits;
# the parent reaps it: only the 0.2 s after the mark belong to the measurement.
_LONG_LIVED = """
import subprocess, sys
child = '''
import sys, time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end: pass
burn(0.4)
print("burnt", flush=True)
sys.stdin.readline()
burn(0.2)
'''
worker = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
print(worker.stdout.readline().strip(), flush=True)
worker.stdin.write(sys.stdin.readline())
worker.stdin.flush()
worker.wait()
print("reaped", flush=True)
sys.stdin.readline()
"""


def test_a_child_alive_at_the_mark_counts_only_what_it_used_after() -> None:
    used_seconds = _seconds_counted(_LONG_LIVED, ready="burnt")
    assert 0.1 <= used_seconds <= 0.35, f"计到 {used_seconds:.2f} 秒 CPU，应约 0.2 秒"
