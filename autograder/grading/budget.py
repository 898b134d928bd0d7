"""Per-test time limits that a loaded machine cannot turn into lost points.

A test's ``timeout`` (``call_timeout_s`` or ``@pytest.mark.timeout``) is what the reference
needs on an idle two-core machine, with margin. It is enforced three ways while the grader waits
for the worker:

* **CPU budget**: the worker's process tree may use ``timeout x threads`` CPU-seconds in the
  test. CPU time does not stretch when other jobs share the cores, so the same submission
  passes or fails the same on an idle runner and a busy one; an infinite loop burns through
  it.
* **Stall rule**: a request that has waited ``timeout`` seconds while the worker used less
  than :data:`STALL_CPU_SHARE` of a core over the last :data:`STALL_WINDOW_S` seconds is
  stuck (sleeping, blocked): stopped. A worker that is merely slowed keeps using CPU.
* **Wall-clock cap**: ``timeout x WALL_FACTOR`` seconds of waiting in all, whatever happens.

CPU time is steady under load for a single-threaded worker (measured: 1.15x with four jobs on
two cores). With several threads OpenMP's spin-waiting inflates it 4-6x, so such workers wait
passively (:func:`autograder.sandbox.host.scrubbed_env`) and the course's assignments use one.
"""

from __future__ import annotations

import time
from collections import deque

WALL_FACTOR = 12.0
STALL_WINDOW_S = 10.0
STALL_CPU_SHARE = 0.02
POLL_S = 0.25


class Budget:
    """The limits of one test (see the module docstring)."""

    def __init__(self, timeout_s: float, threads: int):
        self.timeout_s = float(timeout_s)
        self.cpu_limit_s = self.timeout_s * max(1, threads)
        self.wall_cap_s = self.timeout_s * WALL_FACTOR
        self.cpu_used_s = 0.0  # by earlier processes of this test (a restarted worker)
        self.waited_s = 0.0
        self._base: float | None = None
        self._samples: deque[tuple[float, float]] = deque()
        self._request_start = 0.0

    def begin_request(self, cpu_now: float) -> None:
        if self._base is None:
            self._base = cpu_now
        self._request_start = time.monotonic()
        self._samples.clear()

    def end_request(self) -> None:
        self.waited_s += time.monotonic() - self._request_start

    def restart(self) -> None:
        """The worker was replaced: the next process counts from zero on top of what was
        used."""
        if self._samples:
            self.cpu_used_s += self._samples[-1][1] - (self._base or 0.0)
        self._base = None

    def exceeded(self, cpu_now: float) -> str | None:
        """Why the limits are broken now, or None."""
        now = time.monotonic()
        used = self.cpu_used_s + cpu_now - (self._base or 0.0)
        if used > self.cpu_limit_s:
            return (f"used more than {self.cpu_limit_s:g} CPU-seconds "
                    f"({self.timeout_s:g} s on each of its threads)")
        waited = now - self._request_start
        if self.waited_s + waited > self.wall_cap_s:
            return f"ran past the wall-clock cap of {self.wall_cap_s:g} s"
        self._samples.append((now, cpu_now))
        while self._samples and now - self._samples[0][0] > STALL_WINDOW_S:
            self._samples.popleft()
        if waited > self.timeout_s and now - self._samples[0][0] >= STALL_WINDOW_S * 0.9:
            share = (cpu_now - self._samples[0][1]) / (now - self._samples[0][0])
            if share < STALL_CPU_SHARE:
                return (f"made no progress for {STALL_WINDOW_S:g} s after {self.timeout_s:g} s "
                        "(sleeping or blocked)")
        return None
