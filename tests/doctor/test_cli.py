"""The command line: output, exit codes, --json, --help, tracebacks, and both entry points."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stepfun_core.doctor import cli
from stepfun_core.doctor.report import STEPS
from tests.doctor.conftest import KEY
from tests.replica import Replica

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["doctor", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_healthy_setup_exits_0(
    replica: Replica, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEP_API_KEY", KEY)
    monkeypatch.setenv("STEP_BASE_URL", replica.base_url)
    code, out, _ = run(capsys)
    assert code == 0
    headings = [line for line in out.splitlines() if line in STEPS]
    assert headings == list(STEPS)  # every step, in order (probes: skipped without --probe)
    assert "answered by the loopback replica" in out and KEY not in out
    assert out.rstrip().endswith(
        "Result: everything checked works (answered by the loopback replica, not StepFun). "
        "Exit status 0."
    )


def test_probe_run_ends_with_a_table_and_the_tokens(
    replica: Replica, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--api-key", KEY, "--base-url", replica.base_url, "--probe")
    assert code == 0
    table = out[out.index("Probe summary (the loopback replica): 18 probes") :]
    assert "tokens (" in table and " prompt + " in table
    assert "stream-current-shape      step-3.5-flash" in table
    assert "18 as expected" in table


def test_a_differing_probe_exits_1_and_shows_what_it_saw(
    replica: Replica, capsys: pytest.CaptureFixture[str]
) -> None:
    replica.deviate("stream_finish_null")
    code, out, _ = run(
        capsys, "--api-key", KEY, "--base-url", replica.base_url, "--only", "stream-current-shape"
    )
    assert code == 1
    assert "differs" in out and "observed: [{" in out
    assert "probes to look at: stream-current-shape" in out


def test_no_key_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 2 and "create a key in the StepFun console" in out
    assert "Traceback" not in out + err


def test_a_failed_check_exits_1(capsys: pytest.CaptureFixture[str], refused_port: int) -> None:
    code, out, _ = run(capsys, "--api-key", KEY, "--base-url", f"http://127.0.0.1:{refused_port}")
    assert code == 1 and "refuses connections" in out and "failed: TCP" in out


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--only", "no-such-probe"], "unknown probe no-such-probe"),
        (["--record", "somewhere"], "--record saves probe exchanges: add --probe"),
        (["--timeout", "soon"], "invalid seconds value"),
        # Round 14: 0 and -1 gave a false "no network, or DNS blocked"; nan and inf a crash.
        (["--timeout", "0"], "invalid seconds value"),
        (["--timeout", "nan"], "invalid seconds value"),
        (["--timeout", "inf"], "invalid seconds value"),
        (["--timeout", "1e10"], "invalid seconds value"),  # Round 15: an OverflowError
        # Round 14: a traceback once the run was done; a --record file after a paid request.
        (["--json", "."], "--json .: a directory"),
        (["--probe", "--record", "pyproject.toml"], "--record pyproject.toml: a file"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    code, _, err = run(capsys, *args)
    assert code == 2 and said in err


@pytest.mark.parametrize("option", ["--json", "--record"])
def test_an_output_path_that_cannot_be_written_exits_2_before_any_request(
    replica: Replica, capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str
) -> None:
    # Round 15: an unwritable --record directory ended a paid probe run in a traceback, and an
    # unwritable --json path was found only after the run.
    (tmp_path / "afile").write_text("")
    target = tmp_path / "afile" / "out"
    probe = ["--probe"] if option == "--record" else []
    args = ["--api-key", KEY, "--base-url", replica.base_url, option, str(target), *probe]
    code, _, err = run(capsys, *args)
    assert code == 2 and f"{option} {target}: cannot be written" in err, err
    assert "Traceback" not in err and replica.requests == []


def test_the_json_report_never_holds_the_key_escaped(tmp_path: Path) -> None:
    # Round 15: a key with a quote or a backslash, quoted in a body's JSON text, was kept.
    from stepfun_core.doctor.report import Check, Report, Verdict

    secret = 'sk-abc"def\\ghi12345xyz'
    report = Report()
    body = json.dumps({"error": {"message": f"bad key {secret}"}})
    report.add(Check("Models", "served", Verdict.INFO, body))
    cli.write_json(report, tmp_path / "report.json", secret)
    written = (tmp_path / "report.json").read_text(encoding="utf-8")
    detail = json.loads(written)["checks"][0]["detail"]
    assert secret not in json.loads(detail)["error"]["message"] and "***" in detail
    # Review of round 15: a key under 8 characters (a gateway's "sk-1234") was written in clear.
    report = Report()
    report.add(Check("Models", "served", Verdict.INFO, "key sk-1234 is not allowed"))
    cli.write_json(report, tmp_path / "short.json", "sk-1234")
    assert "sk-1234" not in (tmp_path / "short.json").read_text(encoding="utf-8")


def test_lines_never_show_the_key_nor_what_a_server_sends_as_controls() -> None:
    # Round 14: a probe's "observed:" line printed a body quoting the key (the JSON report
    # masked it); a model id with an escape sequence and a newline faked a line of output.
    import io

    from stepfun_core.doctor.render import Printer
    from stepfun_core.doctor.report import Check, Verdict

    out = io.StringIO()
    quoted = json.dumps(json.dumps({"error": {"message": f"bad key {KEY}"}}))
    detail = f"served: evil\x1b[2J\nfake ok line; {quoted}"
    Printer(out, KEY)(Check("Models", "served", Verdict.INFO, detail))
    printed = out.getvalue()
    assert KEY not in printed and "***" in printed
    assert "\x1b" not in printed and printed.count("\n") == 3  # a blank line, the heading, the line
    assert "evil\\x1b[2J\\nfake ok line" in printed


def test_help_says_what_the_exit_codes_mean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "exit status:" in out and "0  everything the setup needs works" in out
    assert "2  usage or configuration error" in out and "STEPFUN_BASE_URL" in out


def test_json_report_holds_everything_but_the_key(
    replica: Replica, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    replica.deviate("flat_error_bodies")
    target = tmp_path / "out" / "report.json"
    code, out, _ = run(
        capsys,
        *("--api-key", KEY, "--base-url", replica.base_url, "--json", str(target)),
        *("--only", "error-bad-parameter", "--only", "json-object"),
    )
    assert code == 1 and f"Report written to {target}" in out
    text = target.read_text(encoding="utf-8")
    assert KEY not in text
    report = json.loads(text)
    assert report["replica"] is True and report["target"] == "the loopback replica"
    assert report["exit_code"] == 1 and report["requests"] == 2
    probes = [(p["assumption"], p["outcome"]) for p in report["probes"]]
    assert probes == [("json-object", "as expected"), ("error-bad-parameter", "differs")]
    assert {c["step"] for c in report["checks"]} >= {"Configuration", "Reachability", "Models"}
    assert report["tokens"]["total"] == sum(p["tokens"]["total"] for p in report["probes"])


def test_record_writes_one_cassette_per_probe(
    replica: Replica, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["--api-key", KEY, "--base-url", replica.base_url, "--probe", "--record", str(tmp_path)]
    code, _, _ = run(capsys, *args, "--only", "tool-choice-auto", "--only", "cached-tokens")
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cached-tokens.yaml",
        "tool-choice-auto.yaml",
    ]
    assert "REDACTED" in (tmp_path / "cached-tokens.yaml").read_text(encoding="utf-8")


def test_a_crash_is_one_line_unless_traceback_is_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the doctor tripped")

    monkeypatch.setattr(cli, "run_doctor", crash)
    code, _, err = run(capsys, "--api-key", KEY)
    assert code == 1 and "stepfun doctor failed: RuntimeError: the doctor tripped" in err
    assert "Traceback" not in err and "--traceback" in err
    code, _, err = run(capsys, "--api-key", KEY, "--traceback")
    assert code == 1 and "Traceback (most recent call last)" in err


def test_the_console_script_points_at_main() -> None:
    (entry,) = [
        e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "stepfun"
    ]
    assert entry.value == "stepfun_core.doctor.cli:main" and entry.load() is cli.main


def test_python_m_runs_the_doctor_without_loading_a_framework_or_the_probes(
    tmp_path: Path,
) -> None:
    script = (
        "import runpy, sys\n"
        "sys.argv = ['stepfun_core.doctor', '--base-url', 'http://127.0.0.1:9/v1']\n"
        "try:\n"
        "    runpy.run_module('stepfun_core.doctor', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    loaded = [m for m in sys.modules if m.split('.')[0] in ('langchain_core', "
        "'llama_index', 'langchain_stepfun', 'llama_index_stepfun', 'stepfun_probes', 'yaml')]\n"
        "    print('exit', exit.code, 'frameworks', loaded)\n"
    )
    env = {"PATH": "", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert "No key" not in result.stderr
    assert result.stdout.rstrip().endswith("exit 2 frameworks []"), result.stdout + result.stderr
    assert "STEP_API_KEY" in result.stdout


WITHOUT_THE_EXTRA = """
import sys

sys.modules[sys.argv[1]] = None  # what an install without the doctor extra looks like
from stepfun_core.doctor import cli

for extra in (["--probe"], ["--only", "json-object"], ["--probe", "--record", "out"]):
    print(cli.main(["doctor", "--api-key", "sk-x", "--base-url", "http://127.0.0.1:9/v1", *extra]))
"""


@pytest.mark.parametrize("missing", ["yaml", "stepfun_probes"])
def test_probe_options_without_the_doctor_extra_name_it_in_one_line(
    tmp_path: Path, missing: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_EXTRA, missing],
        capture_output=True,
        text=True,
        env={"PATH": "", "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        check=False,
    )
    assert result.stdout.split() == ["2", "2", "2"], result.stdout + result.stderr
    said = (
        "stepfun doctor: --probe, --only and --record need the wire probes: "
        'pip install "stepfun-integrations[doctor]"'
    )
    assert result.stderr.splitlines() == [said] * 3
    assert not (tmp_path / "out").exists()


def test_a_whole_run_without_probe_options_loads_no_probe_code(
    replica: Replica, tmp_path: Path
) -> None:
    script = (
        "import sys\n"
        "from stepfun_core.doctor import cli\n"
        f"code = cli.main(['doctor', '--api-key', {KEY!r}, '--base-url', {replica.base_url!r}])\n"
        "print('exit', code, [m for m in sys.modules if m.split('.')[0] in "
        "('stepfun_probes', 'yaml')])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": "", "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        check=False,
    )
    assert result.stdout.rstrip().endswith("exit 0 []"), result.stdout + result.stderr
    assert "GET /models lists" in result.stdout
