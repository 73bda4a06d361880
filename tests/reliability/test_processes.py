"""Processes, loops and threads, over real loopback sockets.

- fork (``os.fork``, a ``multiprocessing.Pool`` and a ``ProcessPoolExecutor``, both "fork", and
  an async parent forking workers with ``loop.run_in_executor``) after the parent used the
  shared pool: every child must get the answer to ITS prompt, and no child may send on the
  parent's kept-alive socket (checked on the server: the connection each request arrived on);
- spawn, with the model pickled into the child;
- ``asyncio.run()`` 200 times in one process, and event loops made and dropped without
  ``close()``: file descriptors and server connections stay bounded (fresh processes);
- a cold start from 32 threads at once (in a fresh process): one shared pool;
- many threads sharing one instance, each checking its own answer.

The server echoes each prompt (`tests.downstream.echo`), so a reply meant for another process
or thread shows as a wrong answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import pickle
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from stepfun_core.pools import close_sync_pools
from tests.downstream.calls import (
    FORKED,
    MODES,
    TARGETS,
    aask,
    ask,
    build,
    exchange,
    forked_exchange,
    passed_exchange,
    pickled_exchange,
    run_closing,
)
from tests.downstream.echo import EchoServer, echo_answer
from tests.reliability.conftest import REPO, Row

PROCESS = "process"
CHILDREN = 4
# A read timeout for every instance here: a child stuck on a socket whose answer another child
# read must fail in seconds, not after the default ten minutes.
TIMEOUT = 5.0
FORK_METHODS = (
    "os.fork",
    "multiprocessing.Pool",
    "ProcessPoolExecutor",
    "loop.run_in_executor",
)
PID = re.compile(r"from pid (\d+)")


def reset_sync_pool() -> None:
    """Close the shared sync pools (public API): the next request makes a new one."""
    close_sync_pools()


@pytest.fixture(scope="module")
def echo_server() -> Iterator[EchoServer]:
    with EchoServer(hold=0.01) as server:
        yield server


@pytest.fixture
def echo(echo_server: EchoServer) -> Iterator[EchoServer]:
    """The module's echo server with no request seen, and no pooled connection in this process.

    (Other processes, such as the spawn pool's workers, may still hold connections open: tests
    tell connections apart by the serial number the server gives each one.)
    """
    reset_sync_pool()
    echo_server.reset()
    yield echo_server
    reset_sync_pool()


@pytest.fixture(scope="module")
def quick_echo_server() -> Iterator[EchoServer]:
    """An echo server that answers at once (for the subprocess tests)."""
    with EchoServer(hold=0.0) as server:
        yield server


@pytest.fixture
def quick_echo(quick_echo_server: EchoServer) -> EchoServer:
    quick_echo_server.reset()
    return quick_echo_server


@pytest.fixture(scope="module")
def spawn_pool() -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        yield pool


# --- checking what children got and where their requests arrived -------------------------------
def _wrong_answers(results: list[dict[str, Any]]) -> list[str]:
    return [
        f"{r['prompt']!r} -> {r['error'] or r['text']!r}"
        for r in results
        if r.get("error") or r.get("text") != echo_answer(r["prompt"])
    ]


def _connection_owners(server: EchoServer) -> dict[int, set[str]]:
    """Which processes (by the pid named in the prompt, else "parent") used each connection."""
    owners: dict[int, set[str]] = {}
    for request in server.requests:
        found = PID.search(request.prompt)
        owners.setdefault(request.connection, set()).add(found.group(1) if found else "parent")
    return owners


def _shared_sockets(server: EchoServer) -> list[str]:
    return [
        f"connection {conn}: {sorted(who)}"
        for conn, who in _connection_owners(server).items()
        if len(who) > 1
    ]


# --- forking ------------------------------------------------------------------------------------
def _os_fork_children(mode: str) -> list[dict[str, Any]]:
    children = []
    for i in range(CHILDREN):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            status = 1
            try:
                os.close(read_fd)
                data = json.dumps(exchange(FORKED["instance"], f"child {i}", mode)).encode()
                with os.fdopen(write_fd, "wb") as out:
                    out.write(data)
                status = 0
            finally:
                os._exit(status)
        os.close(write_fd)
        children.append((pid, read_fd))
    results: list[dict[str, Any]] = []
    for pid, read_fd in children:
        with os.fdopen(read_fd, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        if not data:
            results.append({"prompt": f"child {pid}", "text": None, "error": f"died: {status}"})
        else:
            results.extend(json.loads(data))
    return results


def _pool_children(mode: str) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("fork")
    with context.Pool(CHILDREN) as pool:
        tasks = [(f"child {i}", mode) for i in range(CHILDREN)]
        batches = pool.starmap_async(forked_exchange, tasks, chunksize=1).get(timeout=120)
    return [r for batch in batches for r in batch]


def _executor_children(mode: str) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(CHILDREN, mp_context=context) as pool:
        futures = [pool.submit(forked_exchange, f"child {i}", mode) for i in range(CHILDREN)]
        return [r for f in futures for r in f.result(timeout=120)]


def _executor_in_a_running_loop_children(mode: str) -> list[dict[str, Any]]:
    """An async parent (its loop's pool holding a connection) forks workers from inside the
    loop, as ``loop.run_in_executor(ProcessPoolExecutor(...))`` does."""
    context = multiprocessing.get_context("fork")

    async def main() -> list[dict[str, Any]]:
        prompt = "parent inside its running loop"
        assert await aask(FORKED["instance"], prompt) == echo_answer(prompt)
        loop = asyncio.get_running_loop()
        with concurrent.futures.ProcessPoolExecutor(CHILDREN, mp_context=context) as pool:
            batches = await asyncio.wait_for(
                asyncio.gather(
                    *[
                        loop.run_in_executor(pool, forked_exchange, f"child {i}", mode)
                        for i in range(CHILDREN)
                    ]
                ),
                timeout=120,
            )
        return [r for batch in batches for r in batch]

    return run_closing(main())


_FORKERS = {
    "os.fork": _os_fork_children,
    "multiprocessing.Pool": _pool_children,
    "ProcessPoolExecutor": _executor_children,
    "loop.run_in_executor": _executor_in_a_running_loop_children,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("method", FORK_METHODS)
def test_forked_children_get_their_own_answers_on_their_own_sockets(
    method: str, target: str, mode: str, echo: EchoServer, row: Row
) -> None:
    inst = build(target, echo.base_url, timeout=TIMEOUT)
    # The parent uses the instance (and so the shared pool) once, sync and async: a
    # kept-alive connection sits in the pool when the children are forked.
    before = "parent before the fork"
    assert ask(inst, before) == echo_answer(before)
    assert run_closing(aask(inst, before + " (async)")) == echo_answer(before + " (async)")

    FORKED["instance"] = inst
    try:
        results = _FORKERS[method](mode)
    finally:
        FORKED.clear()
    after = "parent after the children"
    try:
        parent_after: str | None = ask(inst, after)
    except Exception as exc:
        parent_after = f"{type(exc).__name__}: {exc}"

    wrong = _wrong_answers(results)
    parent_connections = {r.connection for r in echo.requests if not PID.search(r.prompt)}
    on_parent_socket = sorted(
        r.prompt
        for r in echo.requests
        if PID.search(r.prompt) and r.connection in parent_connections
    )
    shared = _shared_sockets(echo)
    child_pids = {str(r["pid"]) for r in results if "pid" in r}
    row.set(
        category=PROCESS,
        case=f"fork ({method}) after the parent used the shared pool",
        adapter=target,
        mode=f"{mode} in the children",
        expected="each child: its own answer, on a connection of its own; nothing unreadable",
        observed=(
            f"{len(results) - len(wrong)}/{len(results)} right; {len(on_parent_socket)} child "
            f"requests on the parent's socket; {len(shared)} shared sockets; "
            f"{len(echo.malformed)} unreadable requests"
        ),
        requests=len(echo.requests),
    )
    assert len(results) == 2 * CHILDREN
    assert len(child_pids) >= 1 and str(os.getpid()) not in child_pids
    assert not wrong, f"children got wrong answers or errors: {wrong}"
    assert not echo.malformed, f"the server received interleaved requests: {echo.malformed}"
    assert not on_parent_socket, f"children sent on the parent's socket: {on_parent_socket}"
    assert not shared, f"sockets used by more than one process: {shared}"
    assert parent_after == echo_answer(after)


@pytest.mark.parametrize("target", TARGETS)
def test_spawned_children_with_the_model_pickled_in(
    target: str,
    echo: EchoServer,
    spawn_pool: concurrent.futures.ProcessPoolExecutor,
    row: Row,
) -> None:
    inst = build(target, echo.base_url, timeout=TIMEOUT)
    assert ask(inst, "parent first") == echo_answer("parent first")  # used before pickling
    data = pickle.dumps(inst)
    futures = [
        spawn_pool.submit(pickled_exchange, data, "spawned (pickle.dumps)", mode) for mode in MODES
    ]
    futures += [
        spawn_pool.submit(passed_exchange, inst, "spawned (argument)", mode) for mode in MODES
    ]
    results = [r for f in futures for r in f.result(timeout=180)]
    wrong = _wrong_answers(results)
    pids = {str(r["pid"]) for r in results}
    auth = {r.headers.get("authorization") for r in echo.requests}
    row.set(
        category=PROCESS,
        case="spawn, the model pickled into the child (after one use in the parent)",
        adapter=target,
        mode="sync, async",
        expected="every child answer right; same key and server",
        observed=f"{len(results) - len(wrong)}/{len(results)} right from {len(pids)} children",
        requests=len(echo.requests),
    )
    assert not wrong, wrong
    assert str(os.getpid()) not in pids
    assert auth == {"Bearer sk-downstream"}
    assert not echo.malformed


# --- asyncio.run() again and again -------------------------------------------------------------
RUNS = 200

_RUNS_SCRIPT = """
import asyncio, gc, json, os, sys
from tests.downstream.calls import aask, build
from tests.downstream.echo import echo_answer

targets, base_url, runs, style = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3]), sys.argv[4]
instances = [build(target, base_url, timeout=10.0) for target in targets]


def one_run(i):
    coro = aask(instances[i % len(instances)], f"run {i}", stream=i // len(instances) % 2 == 1)
    if style == "asyncio.run":
        return asyncio.run(coro)
    # A loop made, used and dropped without close() (as some sync wrappers do): the garbage
    # collector closes such a loop, unless something keeps it alive.
    return asyncio.new_event_loop().run_until_complete(coro)


wrong, counts = 0, {}
for i in range(runs):
    wrong += one_run(i) != echo_answer(f"run {i}")
    if i + 1 in (10, runs):
        gc.collect()
        counts[i + 1] = len(os.listdir("/proc/self/fd"))
print(json.dumps({"wrong": wrong, "fds": counts}), flush=True)
sys.stdin.readline()  # stay alive while the test counts the server's open connections
"""


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _run_script(script: str, *args: str, server: EchoServer) -> tuple[dict[str, Any], int]:
    """Run `script` in a fresh interpreter; its JSON line, and the server connections it holds
    open (counted while it is still alive, less those other processes hold)."""
    server.wait_idle(0.5)
    baseline = server.open_connections  # e.g. the spawn test's workers, still alive
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        env=_child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline()
        if not line:
            proc.wait(30)
            raise AssertionError(f"the child failed: {proc.stderr.read() if proc.stderr else ''}")
        report = json.loads(line)
        # Let the server notice the connections the child closed (up to 3 s).
        server.wait_idle(3.0, at_most=baseline + int(report.get("held", 0)))
        open_now = server.open_connections - baseline
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(30)
        return report, open_now
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def _check_runs(
    style: str, targets: tuple[str, ...], runs: int, echo: EchoServer, row: Row
) -> None:
    report, open_connections = _run_script(
        _RUNS_SCRIPT, ",".join(targets), echo.base_url, str(runs), style, server=echo
    )
    fds = {int(k): v for k, v in report["fds"].items()}
    growth = fds[runs] - fds[10]
    what = "asyncio.run()" if style == "asyncio.run" else "new_event_loop() dropped unclosed,"
    row.set(
        category=PROCESS,
        case=f"{what} {runs} times, one request each, default shared pool",
        adapter=", ".join(targets),
        mode="async",
        expected="answers right; fds and server connections do not grow with the runs",
        observed=(
            f"{runs - report['wrong']}/{runs} right; fds {fds[10]} after 10 runs, "
            f"{fds[runs]} after {runs}; {open_connections} connections open on the server"
        ),
        requests=len(echo.requests),
    )
    assert report["wrong"] == 0
    assert growth <= 10, f"file descriptors grew by {growth} over {runs - 10} runs ({style})"
    assert open_connections <= 10, f"{open_connections} connections left open by {runs} runs"


@pytest.mark.parametrize("target", TARGETS)
def test_asyncio_run_200_times_keeps_fds_and_connections_bounded(
    target: str, quick_echo: EchoServer, row: Row
) -> None:
    _check_runs("asyncio.run", (target,), RUNS, quick_echo, row)


def test_event_loops_dropped_without_close_keep_fds_and_connections_bounded(
    quick_echo: EchoServer, row: Row
) -> None:
    # Without the library holding them, such loops (and their sockets) are collected; with
    # plain httpx the same loop does not grow the descriptor count.
    _check_runs("dropped loop", TARGETS, 40, quick_echo, row)


# --- a cold start from 32 threads ---------------------------------------------------------------
COLD_THREADS = 32

_COLD_SCRIPT = """
import json, sys, threading
import httpx

made = []
_init = httpx.Client.__init__
def _counting_init(self, *args, **kwargs):
    made.append(id(self))
    _init(self, *args, **kwargs)
httpx.Client.__init__ = _counting_init

from stepfun_core.pools import shared_sync_client
from tests.downstream.calls import ask, build
from tests.downstream.echo import echo_answer

targets, base_url, n = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
instances = [build(target, base_url, timeout=10.0) for target in targets]
barrier = threading.Barrier(n)
pools, wrong = [], []
made_before = len(made)

def worker(i):
    barrier.wait()
    pools.append(id(shared_sync_client()))
    prompt = f"cold thread {i} ({targets[i % len(targets)]})"
    try:
        text = ask(instances[i % len(targets)], prompt, stream=i // len(targets) % 2 == 1)
    except Exception as exc:
        text = repr(exc)
    if text != echo_answer(prompt):
        wrong.append(f"{prompt!r} -> {text!r}")

threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
pool = shared_sync_client()
held = len(pool._transport._pool.connections)
print(json.dumps({
    "pools": len(set(pools)), "clients_made": len(made) - made_before, "wrong": wrong,
    "held": held,
}), flush=True)
sys.stdin.readline()
"""


def test_cold_start_from_32_threads_makes_one_shared_pool(echo: EchoServer, row: Row) -> None:
    # Thread i goes through entry point i % 3 (core client, ChatStepFun, StepFun), half streamed.
    report, open_connections = _run_script(
        _COLD_SCRIPT, ",".join(TARGETS), echo.base_url, str(COLD_THREADS), server=echo
    )
    row.set(
        category=PROCESS,
        case=f"cold start: {COLD_THREADS} threads' first request at once (fresh process)",
        adapter=", ".join(TARGETS),
        mode="sync",
        expected="one shared pool; answers right; server connections <= threads and pool",
        observed=(
            f"{report['pools']} distinct shared_sync_client(), {report['clients_made']} "
            f"httpx.Client made; {COLD_THREADS - len(report['wrong'])}/{COLD_THREADS} right; "
            f"{echo.connections_opened} connections opened, {open_connections} still open "
            f"(pool holds {report['held']})"
        ),
        requests=len(echo.requests),
    )
    assert not report["wrong"], report["wrong"]
    assert report["pools"] == 1, f"shared_sync_client() gave {report['pools']} different pools"
    assert report["clients_made"] == 1, f"{report['clients_made']} pools made on a cold start"
    assert echo.connections_opened <= COLD_THREADS
    assert open_connections <= report["held"], "connections held open by pools nobody uses"


# --- many threads, one instance ------------------------------------------------------------------
THREADS = 16
PER_THREAD = 6


@pytest.mark.parametrize("target", TARGETS)
def test_threads_share_one_instance(target: str, echo: EchoServer, row: Row) -> None:
    inst = build(target, echo.base_url, timeout=TIMEOUT * 2)
    barrier = threading.Barrier(THREADS)

    def worker(t: int) -> list[str]:
        barrier.wait()
        wrong = []
        for k in range(PER_THREAD):
            prompt = f"thread {t} call {k}"
            try:
                text = ask(inst, prompt, stream=k % 2 == 1)
            except Exception as exc:
                text = f"{type(exc).__name__}: {exc}"
            if text != echo_answer(prompt):
                wrong.append(f"{prompt!r} -> {text!r}")
        return wrong

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        wrong = [w for ws in pool.map(worker, range(THREADS)) for w in ws]
    total = THREADS * PER_THREAD
    row.set(
        category=PROCESS,
        case=f"{THREADS} threads share one instance ({total} calls, half streamed)",
        adapter=target,
        mode="sync",
        expected="each thread gets the answers to its own prompts",
        observed=f"{total - len(wrong)}/{total} right; {echo.connections_opened} connections",
        requests=len(echo.requests),
        ok_count=total - len(wrong),
    )
    assert not wrong, wrong[:5]
    assert len(echo.requests) == total
    assert not echo.malformed
    assert echo.connections_opened <= THREADS


@pytest.mark.parametrize("target", TARGETS)
def test_threads_with_their_own_loops_share_one_instance(
    target: str, echo: EchoServer, row: Row
) -> None:
    inst = build(target, echo.base_url, timeout=TIMEOUT * 2)
    threads, per_loop = 8, 4

    def worker(t: int) -> list[str]:
        prompts = [f"loop thread {t} call {k}" for k in range(per_loop)]

        async def burst() -> list[str]:
            answers = await asyncio.gather(
                *[aask(inst, p, stream=k % 2 == 1) for k, p in enumerate(prompts)],
                return_exceptions=True,
            )
            return [
                f"{p!r} -> {a!r}"
                for p, a in zip(prompts, answers, strict=True)
                if a != echo_answer(p)
            ]

        return run_closing(burst())

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        wrong = [w for ws in pool.map(worker, range(threads)) for w in ws]
    total = threads * per_loop
    row.set(
        category=PROCESS,
        case=f"{threads} threads, each with its own event loop, share one instance",
        adapter=target,
        mode="async",
        expected="each loop gets the answers to its own prompts",
        observed=f"{total - len(wrong)}/{total} right",
        requests=len(echo.requests),
        ok_count=total - len(wrong),
    )
    assert not wrong, wrong[:5]
    assert not echo.malformed
