"""Smoke test of the scale benchmark (benchmarks/scale.py) in its quickest form.

It runs the real thing (a loopback server in its own process, every part) with tiny numbers and
checks that the results are complete and well formed and that our clients made no error. No
figure is judged: performance is measured in benchmarks/, never asserted in tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OURS_AND_FLOORS = ("wire", "core", "lc_floor", "chatstepfun", "li_floor", "li_stepfun")
STREAMS = 12


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    out = tmp_path_factory.mktemp("scale")
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.scale",
        "--quick",
        "--streams",
        str(STREAMS),
        "--rounds",
        "1",
        "--chunks",
        "8",
        "--threads",
        "3",
        "--sync-streams",
        "6",
        "--soak-calls",
        "10",
        "--soak-runs",
        "2",
        "--json",
        str(out / "scale.json"),
        "--markdown",
        str(out / "scale.md"),
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "scale.json").read_text()), (out / "scale.md").read_text()


def test_every_burst_of_ours_and_the_floors_ran_without_error(scale_run) -> None:
    result, _ = scale_run
    assert set(result["async"]) == {"default", "sized"}
    for config, data in result["async"].items():
        assert data["setup"] == {}, (config, data["setup"])
        for key in OURS_AND_FLOORS:
            (burst,) = data["rounds"][key]
            assert burst["streams"] == STREAMS
            assert burst["errors"] == 0, (config, key, burst["error_kinds"])
            assert burst["stall_max"] > 0
            assert burst["cpu"] > 0 and burst["wall"] > 0
            assert burst["rss_peak"] >= burst["rss_before"] > 0
        # The clients that do I/O were seen by the server: one connection each at least.
        for key in ("wire", "core", "chatstepfun", "li_stepfun"):
            assert data["rounds"][key][0]["conns_opened"] >= 1


def test_the_sized_configuration_gives_our_clients_their_own_pool(scale_run) -> None:
    result, _ = scale_run
    pool_via = result["async"]["sized"]["pool_via"]
    for key in ("core", "chatstepfun", "li_stepfun"):
        assert pool_via[key] in ("setting", "caller's client")
    assert result["async"]["default"]["pool_via"]["core"] == "default"


def test_the_sync_streams_and_the_soaks_left_nothing_behind(scale_run) -> None:
    result, _ = scale_run
    for key in ("wire", "core", "chatstepfun", "li_stepfun"):
        (burst,) = result["sync"]["rounds"][key]
        assert burst["errors"] == 0, (key, burst["error_kinds"])
        soak = result["soak"]["sequential"][key]
        assert soak["calls"] == 10 and soak["errors"] == 0, (key, soak["error_kinds"])
    for key in ("core", "chatstepfun", "li_stepfun"):
        runs = result["soak"]["asyncio_run"][key]
        assert runs["calls"] == 2 and runs["errors"] == 0, (key, runs["error_kinds"])
        # Our per-loop pool is closed with its loop: no descriptor or thread outlives the runs.
        assert runs["fds_after"] <= runs["fds_before"]
        assert runs["threads_after"] <= runs["threads_before"]


def test_the_markdown_has_every_table(scale_run) -> None:
    result, markdown = scale_run
    for title in ("**async, default pools", "**async, pools sized to", "**sync, ", "**soak**"):
        assert title in markdown
    for key in OURS_AND_FLOORS:
        assert result["contestants"][key]["label"] in markdown
    header_cells = markdown.split("\n| contestant | pool | errors |")[1].split("\n")[0]
    assert "longest stall (s)" in header_cells
