"""Message ids are LangChain's own, unique per run; the API's completion id is metadata.

A gateway or a cache may answer two calls with one completion id. Were it the message id,
LangGraph's ``add_messages`` would replace the earlier turn with the later one.
"""

from __future__ import annotations

import pytest
from langchain_core.utils.utils import LC_ID_PREFIX

from langchain_stepfun import ChatStepFun
from tests.core.wire_samples import CURRENT_ID, CURRENT_STREAM
from tests.hostile import RecordingAPI, by_mode, completion_body
from tests.langchain.conftest import Driver, aggregate

KEY = "sk-message-ids"
REPEATED = "the-same-id-every-time"


def repeating_model(**options: object) -> ChatStepFun:
    """A model whose server gives every reply, whole or streamed, the same completion id."""
    whole = completion_body({"role": "assistant", "content": "ok"}, id=REPEATED)
    streamed = CURRENT_STREAM.replace(CURRENT_ID.encode(), REPEATED.encode())
    api = RecordingAPI(by_mode(whole, streamed))
    return ChatStepFun(**api.options("http_async_client", api_key=KEY, **options))


def test_invoked_messages_get_unique_run_ids(driver: Driver) -> None:
    model = repeating_model()
    first, second = driver.invoke(model, "one"), driver.invoke(model, "two")
    assert first.id and second.id and first.id != second.id
    assert first.id.startswith(LC_ID_PREFIX) and second.id.startswith(LC_ID_PREFIX)
    assert first.response_metadata["id"] == second.response_metadata["id"] == REPEATED


@pytest.mark.parametrize("streaming", [False, True], ids=["plain", "streaming-invoke"])
def test_generate_results_keep_the_api_id_as_metadata(driver: Driver, streaming: bool) -> None:
    message = driver.invoke(repeating_model(streaming=streaming), "one")
    assert message.id is not None and message.id != REPEATED
    assert message.response_metadata["id"] == REPEATED


def test_stream_chunks_share_one_run_id_per_call(driver: Driver) -> None:
    model = repeating_model()
    first, second = driver.stream(model, "one"), driver.stream(model, "two")
    for chunks in (first, second):
        ids = {c.id for c in chunks}
        assert len(ids) == 1, ids
        (only,) = ids
        assert only is not None and only.startswith(LC_ID_PREFIX)
        # The API's id arrives once, on the last chunk (metadata strings add up when merged).
        assert aggregate(chunks).response_metadata["id"] == REPEATED
    assert first[0].id != second[0].id
