"""A Python process run from a script and watched from outside: threads, sockets, peak memory.

The round-2 tests measure what a call leaves behind in the process that made it, so the calls
run in a child of their own (the test process holds servers, threads and sockets of its own):

    with Child(SCRIPT, base_url) as child:
        child.read()                  # the script prints one JSON object per line
        child.reset_peak()            # VmHWM back down to the resident size now
        child.send("go")              # a line on the script's stdin
        child.read(); child.peak_growth_mib(), child.threads(), child.sockets()
        child.interrupt()             # a real SIGINT

Only Linux's /proc is read (the suite runs on Linux; elsewhere these tests are skipped).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import REPO

PROC = Path("/proc")
needs_proc = pytest.mark.skipif(
    not (PROC / "self" / "status").exists(), reason="reads /proc (Linux only)"
)


def child_env(**extra: str | None) -> dict[str, str]:
    """This environment with the repository importable; ``None`` values are removed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class Child:
    """``python -c script args...``: JSON lines out, lines in, /proc read from outside."""

    def __init__(self, script: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            cwd=REPO,
            env=env or child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def read(self, timeout: float = 120.0) -> Any:
        """The next JSON line the script printed."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the child printed nothing for {timeout} s") from None
        if line is None:
            self.proc.wait(10)
            raise AssertionError(
                f"the child ended (status {self.proc.returncode}): {self.stderr[-3000:]}"
            )
        return json.loads(line)

    def send(self, line: str = "") -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    # -- what /proc says about it --------------------------------------------------------------
    def _status(self, field: str) -> int:
        for line in (PROC / str(self.pid) / "status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.pid}/status")

    def threads(self) -> int:
        return self._status("Threads")

    def sockets(self) -> int:
        """Open file descriptors that are sockets."""
        count = 0
        for fd in (PROC / str(self.pid) / "fd").iterdir():
            try:
                count += os.readlink(fd).startswith("socket:")
            except OSError:  # closed while we looked
                continue
        return count

    def peak_mib(self) -> float:
        """The resident set's high-water mark (VmHWM)."""
        return self._status("VmHWM") / 1024

    def rss_mib(self) -> float:
        return self._status("VmRSS") / 1024

    def reset_peak(self) -> float:
        """Bring VmHWM down to the resident size now (Linux ``clear_refs``); that size."""
        (PROC / str(self.pid) / "clear_refs").write_text("5")
        return self.peak_mib()

    def settle(self, threads: int, sockets: int, within: float = 1.0) -> tuple[int, int]:
        """Threads and sockets, once back to at most ``threads``/``sockets`` or ``within`` s."""
        end = time.monotonic() + within
        while True:
            now = self.threads(), self.sockets()
            if (now[0] <= threads and now[1] <= sockets) or time.monotonic() >= end:
                return now
            time.sleep(0.02)

    def interrupt(self) -> None:
        """A real SIGINT (Ctrl-C)."""
        os.kill(self.pid, signal.SIGINT)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
