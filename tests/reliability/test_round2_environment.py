"""Round 2, the environment: proxy credentials never shown, misconfiguration a typed error.

- ``stepfun doctor`` with a proxy URL whose password holds ``/ # ? @ : %`` or a space, in
  ``HTTPS_PROXY``, ``HTTP_PROXY`` or ``ALL_PROXY``: no piece of the password (any 3 characters
  of it) in its output or its ``--json`` report.
- A call made in such an environment either works through the proxy (a valid URL) or raises
  ``stepfun_core.ConfigurationError`` (a StepFunError and a ValueError) naming the variable,
  before anything is sent, with no piece of the password in its message, repr or causes.
- ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` naming a missing path, or a malformed proxy URL: the
  first call raises ``ConfigurationError`` naming the variable (and the path), before any
  request; sync and async, streamed or not, all three entry points.

These settings are read when the shared pool is built, so the calls run in a fresh child
process (``watch.Child``) per environment, which closes its sync pool (public API) between
cases; each async call runs in a new event loop and so builds a new pool.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import REPO, ROUND2, SECRET, TARGETS, Row
from tests.reliability.raw_server import ANSWER, RawServer, answers
from tests.reliability.watch import Child, child_env
from tests.replica import Replica

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
SPECIAL = ("/", "#", "?", "@", ":", "%", " ")
# Every variable a run could pick a proxy or a CA from: the children start without them.
CLEARED: dict[str, str | None] = {
    name: None
    for name in (
        *PROXY_VARIABLES,
        *(v.lower() for v in PROXY_VARIABLES),
        "NO_PROXY",
        "no_proxy",
        "STEP_BASE_URL",
        "STEPFUN_BASE_URL",
    )
}


def password(special: str) -> str:
    return f"Qxw7{special}Zjq4{special}Vkb9"


def proxy_url(special: str, where: str = "{proxy}") -> str:
    return f"http://tenant:{password(special)}@{where}"


def leaks(text: str, secret: str) -> list[str]:
    """The pieces of ``secret`` (3 characters or more) that appear in ``text``, longest first."""
    pieces = {secret[i:j] for i in range(len(secret)) for j in range(i + 3, len(secret) + 1)}
    found = sorted((p for p in pieces if p in text), key=len, reverse=True)
    return found[:3]


NAMES = {" ": "space", "/": "slash", "#": "hash", "?": "question", "@": "at", ":": "colon"}


def special_id(special: str) -> str:
    return NAMES.get(special, "percent" if special == "%" else special)


# --- the doctor ----------------------------------------------------------------------------------
@pytest.mark.parametrize("special", SPECIAL, ids=special_id)
@pytest.mark.parametrize("variable", PROXY_VARIABLES)
def test_the_doctor_never_shows_a_proxy_password(
    variable: str, special: str, server: Replica, row: Row, tmp_path: Path
) -> None:
    report = tmp_path / "doctor.json"
    with RawServer(answers) as proxy:
        url = proxy_url(special, proxy.base_url.split("/")[2])
        env = child_env(**{**CLEARED, variable: url, "STEP_API_KEY": SECRET})
        command = ["-m", "stepfun_core.doctor", "--base-url", server.base_url, "--timeout", "3"]
        done = subprocess.run(
            [sys.executable, *command, "--json", str(report)],
            check=False,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    shown = done.stdout + done.stderr
    written = report.read_text(encoding="utf-8") if report.exists() else ""
    found = {"output": leaks(shown, password(special)), "--json": leaks(written, password(special))}
    where = [f"{k} shows {v[0]!r}" for k, v in found.items() if v]
    row.set(
        category=ROUND2,
        case=f"stepfun doctor, {variable} password holding {special!r}",
        adapter="doctor",
        mode="command line",
        expected="no 3 characters of the password in its output or --json report",
        observed="; ".join(where)
        or f"clean ({len(shown)} chars out, report {'written' if written else 'not written'})",
    )
    assert not where, f"the proxy password shows: {where}"
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


# --- calls made in that environment --------------------------------------------------------------
_CALLS = r"""
import contextlib, json, os, sys
from tests.reliability.conftest import TARGETS, Outcome, build, call, error_text, reset_sync_pool

target_url, cases = sys.argv[1], json.loads(sys.argv[2])
print(json.dumps({"ready": True}), flush=True)
for changes in cases:
    sys.stdin.readline()
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    with contextlib.suppress(Exception):  # the next call builds the pool from this environment
        reset_sync_pool()
    results = []
    for target in TARGETS:
        for mode in ("sync", "async"):
            for stream in (False, True):
                try:
                    inst = build(target, target_url, max_retries=0, timeout=5.0)
                except Exception as exc:  # refused when made: also before anything is sent
                    out = Outcome(error=exc)
                else:
                    out = call(target, inst, mode, stream, "hi")
                error = out.error
                results.append({
                    "variant": f"{target} {mode} {'stream' if stream else 'no stream'}",
                    "text": out.text,
                    "error": type(error).__name__ if error else None,
                    "classes": [c.__name__ for c in type(error).__mro__] if error else [],
                    "message": str(error) if error else "",
                    "shown": error_text(error) if error else "",
                })
    print(json.dumps(results), flush=True)
"""


Environment = tuple[tuple[str, str | None], ...]  # variables to set (None: to remove)
PROXY = "{proxy}"  # stands for the loopback proxy's host:port in an environment


@cache
def calls_under(environments: tuple[Environment, ...]) -> list[dict[str, Any]]:
    """For each environment (applied in turn, in one fresh child): every variant's outcome,
    and how many requests reached the target server and the proxy meanwhile."""
    found = []
    with RawServer(answers) as target, RawServer(answers) as proxy:
        where = proxy.base_url.split("/")[2]
        changes = [{n: v.replace(PROXY, where) if v else v for n, v in e} for e in environments]
        with Child(_CALLS, target.base_url, json.dumps(changes), env=child_env(**CLEARED)) as child:
            child.read()
            for _ in environments:
                seen = len(target.requests), len(proxy.requests)
                child.send("go")
                results = child.read()
                found.append(
                    {
                        "results": results,
                        "to_target": len(target.requests) - seen[0],
                        "to_proxy": len(proxy.requests) - seen[1],
                    }
                )
    return found


def typed_refusal(result: dict[str, Any], variable: str) -> list[str]:
    """What is wrong with an error that should be a ConfigurationError naming ``variable``."""
    problems = []
    for name in ("ConfigurationError", "StepFunError", "ValueError"):
        if name not in result["classes"]:
            problems.append(f"not a {name}: {result['error']}: {result['message'][:100]}")
    if variable not in result["message"]:
        problems.append(f"{variable} not named: {result['message'][:100]!r}")
    return problems


def proxy_runs(variable: str) -> list[dict[str, Any]]:
    """One child per variable, the password's special character changed between runs."""
    return calls_under(tuple(((variable, proxy_url(s)),) for s in SPECIAL))


@pytest.mark.parametrize("special", SPECIAL, ids=special_id)
@pytest.mark.parametrize("variable", PROXY_VARIABLES)
def test_a_call_never_shows_a_proxy_password(variable: str, special: str, row: Row) -> None:
    row.set(
        category=ROUND2,
        case=f"calls with {variable} whose password holds {special!r}",
        adapter=", ".join(TARGETS),
        mode="sync, async x stream, no stream",
        expected="through the proxy, or ConfigurationError naming the variable before any "
        "request; no 3 characters of the password in the error",
    )
    run = proxy_runs(variable)[SPECIAL.index(special)]
    results, secret = run["results"], password(special)
    worked = [r for r in results if r["text"] == ANSWER]
    refused = [r for r in results if r["error"]]
    problems = [f"{r['variant']}: {p}" for r in refused for p in typed_refusal(r, variable)]
    shown = [
        f"{r['variant']}: {leaks(r['shown'], secret)[0]!r}"
        for r in refused
        if leaks(r["shown"], secret)
    ]
    row.set(
        observed=(
            f"{len(worked)} answered, {len(refused)} refused "
            f"({', '.join(sorted({r['error'] for r in refused})) or '-'})"
            + (f"; password shown: {shown[0]}" if shown else "")
        ),
        requests=run["to_target"] + run["to_proxy"],
    )
    assert not shown, f"the password shows in errors: {shown[:3]}"
    assert not problems, problems[:3]
    assert len(worked) + len(refused) == len(results)
    if refused:
        assert run["to_target"] + run["to_proxy"] == len(worked), "a refused call sent a request"
    if worked and variable != "HTTPS_PROXY":  # the base URL is http://: HTTPS_PROXY is unused
        assert run["to_proxy"] == len(worked), f"{run['to_proxy']} requests through the proxy"


# --- a missing CA file or directory, a malformed proxy URL ---------------------------------------
MISSING_FILE = "/nonexistent/round2/company-ca.pem"
MISSING_DIR = "/nonexistent/round2/certs"
MALFORMED = f"http://tenant:{password('')}@127.0.0.1:notaport"
EMPTY_LABEL = f"http://tenant:{password('')}@proxy..example:8080"
NOT_PEM = str(REPO / "tests" / "media" / "tiny.png")
SOCKS = f"socks5://tenant:{password('')}@127.0.0.1:1080"
MISCONFIGURED: dict[str, Environment] = {
    "SSL_CERT_FILE names a missing file": (
        ("SSL_CERT_FILE", MISSING_FILE),
        ("SSL_CERT_DIR", None),
    ),
    "SSL_CERT_DIR names a missing directory": (
        ("SSL_CERT_FILE", None),
        ("SSL_CERT_DIR", MISSING_DIR),
    ),
    **{f"{v} is a malformed URL (port 'notaport')": ((v, MALFORMED),) for v in PROXY_VARIABLES},
    # Sync lookups of such a host once raised the idna codec's UnicodeError.
    "HTTPS_PROXY has an empty label in its host name": (("HTTPS_PROXY", EMPTY_LABEL),),
    # Round 14: the ssl module's SSLError and httpx's ImportError escaped, untyped.
    "SSL_CERT_FILE names a file that is no PEM bundle": (
        ("SSL_CERT_FILE", NOT_PEM),
        ("SSL_CERT_DIR", None),
    ),
    **(
        {"ALL_PROXY is socks5, without httpx's socks support": (("ALL_PROXY", SOCKS),)}
        if importlib.util.find_spec("socksio") is None
        else {}
    ),
}


@pytest.mark.parametrize("case", list(MISCONFIGURED))
def test_a_misconfigured_environment_is_a_typed_error_before_any_request(
    case: str, row: Row
) -> None:
    variable, value = next((n, v) for n, v in MISCONFIGURED[case] if v is not None)
    row.set(
        category=ROUND2,
        case=f"{case} (fresh process)",
        adapter=", ".join(TARGETS),
        mode="sync, async x stream, no stream",
        expected=f"ConfigurationError naming {variable}"
        + (" and the path" if variable.startswith("SSL_") else ", no password")
        + "; 0 requests",
    )
    run = calls_under((MISCONFIGURED[case],))[0]  # a fresh child per case
    results = run["results"]
    problems = [f"{r['variant']}: {p}" for r in results for p in typed_refusal(r, variable)]
    if variable.startswith("SSL_"):
        problems += [
            f"{r['variant']}: the path is not named" for r in results if value not in r["message"]
        ]
    shown = [r["variant"] for r in results if leaks(r["shown"], password(""))]
    kinds = sorted({r["error"] or "answered" for r in results})
    first_message = next((r["message"] for r in results if r["error"]), "")
    row.set(
        observed=f"{', '.join(kinds)}: {first_message[:90]}",
        requests=run["to_target"] + run["to_proxy"],
    )
    assert not problems, problems[:3]
    assert not shown, f"the password shows in errors of {shown}"
    assert run["to_target"] + run["to_proxy"] == 0, "a request was sent"
