"""A cassette for a notebook's kernel: what the notebook tests run before and after its cells.

`tests/test_notebooks.py` executes each notebook of ``docs/`` in a Jupyter kernel, a process of
its own, so the suite's VCR (pytest-recording, in the pytest process) cannot reach it. The test
injects a first cell that calls `start` and a last cell that calls `stop`; neither is ever
stored in the notebook. The cassettes are read, matched and written as the suite's are: with
`stepfun_probes.cassette_format`, matched on method, path and the JSON body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vcr import VCR

from stepfun_probes.cassette_format import (
    REDACTED,
    SECRET_REQUEST_HEADERS,
    ReadableYamlSerializer,
    keep_allowed_headers,
    stepfun_json_body,
)
from tests.conftest import block_network

_ACTIVE: dict[str, Any] = {}


def start(cassette: str, *, record: bool) -> None:
    """Serve every request of this kernel from ``cassette`` (replay), or record it afresh.

    Replaying also refuses sockets to anything but loopback, as the test suite does.
    """
    path = Path(cassette)
    vcr = VCR(
        cassette_library_dir=str(path.parent),
        record_mode="all" if record else "none",
        match_on=["method", "path", "stepfun_json_body"],
        filter_headers=[(name, REDACTED) for name in SECRET_REQUEST_HEADERS],
        before_record_response=keep_allowed_headers,
        decode_compressed_response=True,
        serializer="yaml",
    )
    vcr.register_serializer("yaml", ReadableYamlSerializer())
    vcr.register_matcher("stepfun_json_body", stepfun_json_body)
    if record:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a notebook's cassette holds one run, never two
    else:
        block_network()
    context = vcr.use_cassette(path.name, allow_playback_repeats=False)
    _ACTIVE.update(context=context, cassette=context.__enter__(), path=path, record=record)


def stop() -> None:
    """Save the recording, or check that the notebook asked for every recorded request."""
    context, cassette = _ACTIVE.pop("context"), _ACTIVE.pop("cassette")
    unplayed = 0 if _ACTIVE["record"] else len(cassette.data) - cassette.play_count
    context.__exit__(None, None, None)
    if unplayed:
        msg = (
            f"{unplayed} recorded request(s) of {_ACTIVE['path'].name} were never sent: the "
            "notebook changed since it was recorded; re-record it "
            "(python tests/record.py tests/test_notebooks.py)"
        )
        raise AssertionError(msg)
