"""What an adversarial review found in ChatStepFun, pinned so it stays fixed."""

from __future__ import annotations

import asyncio
import base64
import enum
import traceback
import warnings
from collections.abc import Callable
from typing import Any, TypedDict

import httpx
import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from pydantic import BaseModel

from langchain_stepfun import (
    ChatStepFun,
    StepFunInvalidParameterError,
    StepFunMalformedAPIKeyError,
)
from tests.hostile import (
    ANSWER,
    GIF,
    MEDIA,
    OK,
    RecordingAPI,
    by_mode,
    chunk,
    completion_body,
    json_reply,
    sse,
    sse_reply,
)

KEY = "sk-adversary-SECRET-0123456789"


def test_a_plain_string_key_assigned_or_copied_stays_secret() -> None:
    model = ChatStepFun(api_key="sk-first-0123456789")
    model.api_key = KEY  # type: ignore[assignment]
    copied = model.model_copy(update={"api_key": KEY})
    for shown in (repr(model), str(model), repr(copied), str(model.model_dump())):
        assert KEY not in shown
    assert model.client.create  # the new key is usable
    model.model_dump_json()  # a SecretStr serializes; a plain str field would fail here


def test_a_key_that_is_not_a_string_is_refused_without_echoing_it() -> None:
    with pytest.raises(StepFunMalformedAPIKeyError) as caught:
        ChatStepFun(api_key=[KEY])
    assert KEY not in "".join(traceback.format_exception(caught.value))


@pytest.mark.parametrize(
    "message",
    [
        HumanMessage(content=[{"type": "text"}]),
        HumanMessage(content=[{"type": "image", "source_type": "base64", "source": "x"}]),
        SystemMessage(content=[{"type": "text", "text": None}]),
    ],
)
def test_a_content_block_that_cannot_be_read_names_its_message(message: Any) -> None:
    model = ChatStepFun(api_key=KEY)
    with pytest.raises(StepFunInvalidParameterError, match=r"messages\[1\]"):
        model._payload([HumanMessage("hi"), message], None, {})


def test_traced_params_hide_a_query_that_may_hold_a_token() -> None:
    model = ChatStepFun(api_key=KEY, base_url="https://gw.example.com/v1?token=s3cret")
    assert "s3cret" not in str(model._identifying_params)
    assert "s3cret" not in str(model._get_invocation_params())


def test_a_calls_key_headers_and_base_url_are_hidden_in_traces_and_cache_keys() -> None:
    """A key, headers and a base URL given to one call are call settings: LangChain traces a
    call's arguments (LangSmith keeps them) and puts them in the LLM cache key."""
    from langchain_core.caches import InMemoryCache
    from langchain_core.tracers.run_collector import RunCollectorCallbackHandler
    from pydantic import SecretStr

    api = RecordingAPI(json_reply(OK))
    model = ChatStepFun(
        **api.options("http_async_client"),
        model_kwargs={"extra_headers": {"X-Proxy-Auth": "model-" + KEY}},
    )
    call = {
        "api_key": "call-" + KEY,
        "default_headers": {"X-Proxy-Auth": "defaults-" + KEY},
        "extra_headers": {"X-Proxy-Auth": "extra-" + KEY},
        "base_url": "https://gw.example.com/v1?token=query-" + KEY,
    }
    runs = RunCollectorCallbackHandler()
    cache = InMemoryCache()
    model.cache = cache
    model.invoke("hi", config={"callbacks": [runs]}, **call)  # type: ignore[arg-type]
    (run,) = runs.traced_runs
    assert KEY not in repr(run.extra)  # the traced parameters, model_kwargs' headers too
    # The model's own serialization shows its model_kwargs, headers too (as ChatOpenAI's does:
    # LangChain escapes a secret marker nested there, so credentials go in default_headers).
    assert KEY not in (repr(run.serialized) + repr(cache._cache)).replace("model-" + KEY, "")
    assert "X-Proxy-Auth" in repr(run.extra)  # which headers were given still shows
    (sent,) = api.requests
    assert sent.headers["Authorization"] == "Bearer call-" + KEY  # hidden, not dropped
    assert sent.url.host == "gw.example.com"
    # A key may be given as a SecretStr too (so that a binding's repr and dumps hide it), or
    # under the field's alias (it went into the body, and into traces, as given).
    model.cache = None
    model.bind(api_key=SecretStr("bound-" + KEY)).invoke("hi")
    assert api.requests[-1].headers["Authorization"] == "Bearer bound-" + KEY
    model.invoke("hi", config={"callbacks": [runs]}, stepfun_api_key="alias-" + KEY)
    assert api.requests[-1].headers["Authorization"] == "Bearer alias-" + KEY
    assert KEY not in repr(runs.traced_runs[-1].extra)
    assert "stepfun_api_key" not in api.bodies[-1]


def test_calls_that_differ_only_in_credentials_never_share_a_cache_entry() -> None:
    # Hostile round 9: hidden as "***" in the cache key, a tenant's query, headers or key made
    # one key, so the second tenant got the first one's cached answer. Digests tell them apart.
    from langchain_core.caches import InMemoryCache

    api = RecordingAPI(json_reply(OK))
    model = ChatStepFun(**api.options("http_async_client"), cache=InMemoryCache())
    tenants = {
        "base_url": ["https://gw.example.com/v1?tenant=a", "https://gw.example.com/v1?tenant=b"],
        "default_headers": [{"X-Tenant": "a"}, {"X-Tenant": "b"}],
        "extra_headers": [{"X-Tenant": "a"}, {"X-Tenant": "b"}],
        # Review: httpx.Headers' repr hides an authorization value ("[secure]").
        "default_headers ": [
            httpx.Headers({"Proxy-Authorization": "Bearer a"}),
            httpx.Headers({"Proxy-Authorization": "Bearer b"}),
        ],
        "api_key": ["a-" + KEY, "b-" + KEY],
    }
    for name, (first, second) in tenants.items():
        before = len(api.requests)
        for value in (first, second, first):
            model.invoke(f"hi {name}", **{name.strip(): value})
        assert len(api.requests) - before == 2, name  # the third call is the first's cache hit
    assert KEY not in repr(model.cache._cache)  # type: ignore[union-attr]
    # The model's own headers, which its serialization leaves out, count too.
    other = model.model_copy(update={"default_headers": {"X-Tenant": "c"}})
    other.invoke("hi base_url", base_url=tenants["base_url"][0])
    assert len(api.requests) == 2 * len(tenants) + 1


def test_the_cache_key_follows_the_model_as_it_is_now() -> None:
    # Round 13: langchain-core keys the cache by the model's dump as first made. model_copy and
    # assignment kept it (another model, temperature or URL got the old one's cached answer);
    # two tenants' models differing only in their key shared entries; the URL's query (a
    # token) was written into the key as it is.
    from langchain_core.caches import InMemoryCache

    api = RecordingAPI(json_reply(OK))
    cache = InMemoryCache()
    model = ChatStepFun(**api.options("http_async_client"), cache=cache)
    model.invoke("hi")
    model.model_copy(update={"model": "step-3.7-flash", "temperature": 0.9}).invoke("hi")
    model.max_tokens = 64
    model.invoke("hi")
    other_tenant = model.model_copy(update={"api_key": "other-" + KEY})
    other_tenant.invoke("hi")
    with_token = model.model_copy(update={"base_url": "https://gw.example.com/v1?token=" + KEY})
    with_token.invoke("hi")
    assert len(api.requests) == 5
    model.invoke("hi")  # unchanged: its own entry
    assert len(api.requests) == 5
    assert KEY not in repr(cache._cache)


# --- round 6: structured output, tools and blocks ---------------------------------------------


class Answer(BaseModel):
    """An answer."""

    value: int


def _over(reply: Any) -> tuple[ChatStepFun, RecordingAPI]:
    api = RecordingAPI(reply)
    return ChatStepFun(**api.options("http_async_client")), api


@pytest.mark.parametrize("schema", [Answer, Answer.model_json_schema()], ids=["model", "dict"])
def test_structured_output_that_called_no_tool_is_an_error_not_none(schema: Any) -> None:
    """The default (reasoning) model is not forced to call the tool and may answer in prose;
    LangChain's tool parsers then gave None, or a stream that yielded nothing."""
    model, _ = _over(by_mode(OK, ANSWER))
    structured = model.with_structured_output(schema)
    with pytest.raises(OutputParserException, match=r"without calling 'Answer'.*'ok'"):
        structured.invoke("hi")
    with pytest.raises(OutputParserException, match="without calling"):
        list(structured.stream("hi"))
    with pytest.raises(OutputParserException, match="without calling"):
        asyncio.run(structured.ainvoke("hi"))
    with_raw = model.with_structured_output(schema, include_raw=True)
    raw = with_raw.invoke("hi")
    assert raw["parsed"] is None and isinstance(raw["parsing_error"], OutputParserException)
    assert raw["raw"].content == "ok"
    # Streamed, the raw reply comes first, then the error as parsing_error (LangChain's
    # fallbacks cannot catch an error once a stream has begun: it was raised).
    for chunks in (list(with_raw.stream("hi")), asyncio.run(_alist(with_raw.astream("hi")))):
        assert "raw" in chunks[0] and list(chunks[-1]) == ["parsed", "parsing_error"]
        assert isinstance(chunks[-1]["parsing_error"], OutputParserException)


async def _alist(items: Any) -> list[Any]:
    return [item async for item in items]


def test_a_tool_call_with_bad_arguments_is_not_reported_as_no_call() -> None:
    function = {"name": "Answer", "arguments": '{"value": '}
    call = {"id": "c1", "type": "function", "function": function}
    model, _ = _over(json_reply(completion_body({"role": "assistant", "tool_calls": [call]})))
    # LangChain's parser reads only the valid calls: it gave None, then "answered without".
    with pytest.raises(OutputParserException, match="arguments that are not JSON"):
        model.with_structured_output(Answer).invoke("hi")


def test_structured_output_that_called_the_tool_still_parses() -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "Answer", "arguments": '{"value": 4}'},
    }
    reply = completion_body({"role": "assistant", "content": "", "tool_calls": [call]})
    model, _ = _over(json_reply(reply))
    assert model.with_structured_output(Answer).invoke("hi") == Answer(value=4)


class Colour(enum.Enum):
    RED = "red"


FLAT_TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda m: m.with_structured_output(None), "schema is required"),
        (lambda m: m.with_structured_output(Answer, method="json_mode", strict=True), "strict"),
        (lambda m: m.with_structured_output(Answer, method="xml"), "method must be"),
        (lambda m: m.with_structured_output({"type": "object"}), "schema: "),
        (lambda m: m.with_structured_output(Answer, strict="yes"), "strict must be True or"),
        (lambda m: m.bind_tools([123]), "tools: "),
        (lambda m: m.bind_tools([Answer], response_format=5), "schema: "),
        (lambda m: m.bind_tools([Answer], parallel_tool_calls="yes"), "parallel_tool_calls must"),
        (lambda m: m.bind_tools([Answer], strict="yes"), "strict must be True or False"),
        (lambda m: m.bind_tools([], tool_choice="any").invoke("hi"), "needs at least one tool"),
        # Round 16: KeyError and TypeError escaped from malformed tool dicts.
        (lambda m: m.bind_tools([FLAT_TOOL], tool_choice="get_weather"), "tool_choice"),
        (lambda m: m.bind_tools([{"type": ["function"]}]), "tools: "),
        (lambda m: m.bind_tools([{"name": "lookup"}], strict=True), "tools: "),
        # Round 13 (langchain-openai's enum test): an Enum went as its constructor and gave {}.
        (lambda m: m.with_structured_output(Colour), "an Enum is not a schema"),
        (lambda m: m.with_structured_output(Colour, method="json_schema"), "an Enum is not"),
    ],
)
def test_bad_schemas_tools_and_switches_are_our_errors(
    build: Callable[[ChatStepFun], Any], message: str
) -> None:
    # They were LangChain's plain ValueError, or sent as given.
    with pytest.raises(StepFunInvalidParameterError, match=message):
        build(ChatStepFun(api_key=KEY))


@pytest.mark.parametrize(
    "block",
    [
        {"type": "search_result", "source": "s", "title": "t", "content": []},
        {"type": "document", "source": "x"},
    ],
)
def test_a_block_with_a_string_source_is_named(block: dict[str, Any]) -> None:
    # Reading a media type from the source raised "'str' object has no attribute 'get'".
    match = rf"messages\[1\]: StepFun cannot take a '{block['type']}'"
    with pytest.raises(StepFunInvalidParameterError, match=match):
        ChatStepFun(api_key=KEY)._payload([HumanMessage("x"), HumanMessage([block])], None, {})


def test_a_tools_json_blocks_are_sent_as_json_text() -> None:
    # An MCP tool's structured output; such a result ended the agent's run with an error.
    history = [
        HumanMessage("x"),
        AIMessage("", tool_calls=[{"id": "c1", "name": "f", "args": {}}]),
        ToolMessage(
            content=[{"type": "json", "json": {"a": [1, "é"]}}, {"type": "text", "text": "ok"}],
            tool_call_id="c1",
        ),
    ]
    sent = ChatStepFun(api_key=KEY)._payload(history, None, {})["messages"][2]
    assert sent == {"role": "tool", "content": '{"a": [1, "é"]}\nok', "tool_call_id": "c1"}


def test_media_blocks_without_a_mime_type_are_sent_as_what_their_bytes_are() -> None:
    # An mp3 without mime_type was declared audio/wav, then refused as not being wav. (Through
    # invoke, an image block without one never reaches us: langchain-core's tracing step raises
    # ValueError first, for any chat model; docs/langchain.md says so.)
    mp3 = base64.b64encode((MEDIA / "tiny.mp3").read_bytes()).decode()
    gif = base64.b64encode(GIF).decode()
    blocks = [{"type": "audio", "base64": mp3}, {"type": "image", "base64": gif}]
    model = ChatStepFun(api_key=KEY, model="step-3.7-flash")
    parts = model._payload([HumanMessage(content=blocks)], None, {})["messages"][0]["content"]
    assert parts[0]["input_audio"]["data"].startswith("data:audio/mpeg;base64,")
    assert parts[1]["image_url"]["url"].startswith("data:image/gif;base64,")


def test_a_declared_mime_type_is_normalised_into_the_data_url() -> None:
    # Hostile round 11: "image/png; charset=binary" (file -bi) went into the data URL as written
    # (malformed), "IMAGE/PNG" was refused with a misleading message, "image/jpg" sent as is.
    png = base64.b64encode((MEDIA / "tiny.png").read_bytes()).decode()
    declared = {"image/png; charset=binary": "image/png", "IMAGE/PNG": "image/png"}
    model = ChatStepFun(api_key=KEY, model="step-3.7-flash")
    for mime, sent in declared.items():
        blocks = [{"type": "image", "base64": png, "mime_type": mime}]
        part = model._payload([HumanMessage(content=blocks)], None, {})["messages"][0]["content"][0]
        assert part["image_url"]["url"].startswith(f"data:{sent};base64,")


def test_a_video_block_goes_by_file_id_or_base64_mp4() -> None:
    # Hostile round 11: an image block's file_id went as stepfile://, a video block's was refused
    # ("http(s) URL only", though stepfile:// URLs were taken); StepFun's video guide shows mp4
    # as base64 too (docs/wire.md#content-parts).
    blocks = [
        {"type": "video", "file_id": "file-abc"},
        {"type": "video", "base64": "AAAAIGZ0eXBpc29t", "mime_type": "video/mp4"},
    ]
    model = ChatStepFun(api_key=KEY, model="step-3.7-flash")
    parts = model._payload([HumanMessage(content=blocks)], None, {})["messages"][0]["content"]
    assert [p["video_url"]["url"] for p in parts] == [
        "stepfile://file-abc",
        "data:video/mp4;base64,AAAAIGZ0eXBpc29t",
    ]
    webm = {"type": "video", "base64": "GkXfo0AAAAAA", "mime_type": "video/webm"}
    with pytest.raises(StepFunInvalidParameterError, match="video"):
        model._payload([HumanMessage(content=[webm])], None, {})


def test_a_tool_result_holding_an_image_keeps_its_text_and_names_the_image() -> None:
    # Hostile round 11: an MCP screenshot tool's result (text and an image) raised "tool messages
    # take text only" and ended a create_agent run after one request; the LlamaIndex adapter sent
    # the text and named the image.
    png = base64.b64encode((MEDIA / "tiny.png").read_bytes()).decode()
    history = [
        HumanMessage("Look at example.com"),
        AIMessage("", tool_calls=[{"name": "shot", "args": {}, "id": "c1"}]),
        ToolMessage(
            [
                {"type": "text", "text": "Screenshot of https://example.com"},
                {"type": "image", "base64": png, "mime_type": "image/png"},
            ],
            tool_call_id="c1",
        ),
    ]
    model, api = _over(json_reply(OK))
    model.invoke(history)
    assert api.bodies[0]["messages"][2]["content"] == (
        "Screenshot of https://example.com\n"
        "[image block omitted: StepFun tool messages take text only]"
    )
    with pytest.raises(StepFunInvalidParameterError, match="system messages take text only"):
        model.invoke([SystemMessage([{"type": "image", "base64": png, "mime_type": "image/png"}])])


def test_a_fields_alias_given_to_one_call_is_that_field() -> None:
    # Hostile round 8: model_name= and stop_sequences= (the fields' aliases, which the
    # constructor takes) were sent in the body under those names, and the call ran on the
    # model's own model without its stop sequences.
    model, api = _over(json_reply(OK))
    model.invoke("hi", model_name="step-3.7-flash", stop_sequences=["END"])
    model.bind(model_name="step-3.7-flash").invoke("hi")
    assert [(b["model"], b.get("stop")) for b in api.bodies] == [
        ("step-3.7-flash", ["END"]),
        ("step-3.7-flash", None),
    ]
    assert not any("model_name" in b or "stop_sequences" in b for b in api.bodies)
    with pytest.raises(StepFunInvalidParameterError, match="model_name and model"):
        model.invoke("hi", model_name="step-3.7-flash", model="step-3.5-flash")
    assert len(api.bodies) == 2
    # Round 16: stop_sequences=None dropped the call's stop, and the model's, as stop=None does not.
    model.invoke("hi", stop=["END"], stop_sequences=None)
    model.model_copy(update={"stop": ["HALT"]}).invoke("hi", stop_sequences=None)
    assert [b.get("stop") for b in api.bodies[2:]] == [["END"], ["HALT"]]


def test_a_placeholder_tool_call_delta_makes_no_tool_call() -> None:
    # Hostile round 8: a step-1-era placeholder delta (every field "") became a tool call of its
    # own; when its index turned out to be the server's web search, the streamed message held a
    # call named "" that invoke's did not, which an agent would run and the API refuses as history.
    placeholder = {"id": "", "type": "", "function": {"name": "", "arguments": ""}}
    search = {
        "id": "ws",
        "type": "web_search",
        "function": {"name": "web_search", "arguments": "{}", "results": []},
    }
    events = sse(
        chunk(tool_calls=[placeholder]),
        chunk(tool_calls=[search]),
        chunk("Answer", finish="stop"),
    )
    model, _ = _over(sse_reply(events))
    chunks = list(model.stream("x"))
    message = chunks[0]
    for piece in chunks[1:]:
        message += piece
    assert message.tool_calls == [] and message.tool_call_chunks == []
    assert message.text == "Answer"
    assert len(message.additional_kwargs["server_tool_calls"]) == 1


def test_fields_and_their_aliases_are_fields_however_they_are_given() -> None:
    # Hostile round 8 and its review: given to model_kwargs (at construction, by assignment, in
    # model_copy) or twice to one call, a field or its alias was sent in the body (a key given
    # as stepfun_api_key too), silently lost, or kept the old value.
    with pytest.warns(UserWarning, match="explicitly"):
        moved = ChatStepFun(api_key=KEY, model="step-3.5-flash", model_kwargs={"model_name": "m2"})
    assert (moved.model, moved.model_kwargs) == ("m2", {})
    model, api = _over(json_reply(OK))
    with pytest.raises(StepFunInvalidParameterError, match="stepfun_api_key: a field"):
        model.model_kwargs = {"stepfun_api_key": "sk-OTHER"}
    with pytest.raises(StepFunInvalidParameterError, match="must be a dict"):
        model.model_copy(update={"extra_body": ["x"]})
    copy = model.model_copy(update={"model_name": "step-3.7-flash", "stop_sequences": ["END"]})
    assert (copy.model, copy.stop) == ("step-3.7-flash", ["END"])
    with pytest.raises(StepFunInvalidParameterError, match="stop: given twice"):
        model.invoke("hi", stop=["a"], stop_sequences=["b"])
    model.invoke("hi", stop=["a"], stop_sequences=["a"])
    assert [body["stop"] for body in api.bodies] == [["a"]]


@pytest.mark.parametrize("where", ["field", "model_kwargs", "call", "call extra_body"])
def test_n_generations_hold_under_a_streaming_callback(where: str) -> None:
    # Hostile round 9: a streaming handler (astream_events, LangGraph's "messages" mode) sends
    # invoke to _astream, which refuses n > 1: a call that worked alone raised once traced.
    two = completion_body({"role": "assistant", "content": "one"})
    two["choices"].append({**two["choices"][0], "index": 1, "message": {"content": "two"}})
    api = RecordingAPI(by_mode(two, sse(chunk("one", finish="stop"))))
    place = {"field": {"n": 2}, "model_kwargs": {"model_kwargs": {"n": 2}}}.get(where, {})
    call = {"call": {"n": 2}, "call extra_body": {"extra_body": {"n": 2}}}.get(where, {})
    model = ChatStepFun(**api.options("http_async_client", api_key=KEY, **place))

    async def node(question: str, config: RunnableConfig) -> list[str]:
        messages = [[HumanMessage(question)]]
        run = await model.agenerate(messages, callbacks=config.get("callbacks"), **call)
        return [generation.text for generation in run.generations[0]]

    async def traced() -> Any:
        async for event in RunnableLambda(node).astream_events("Name a colour.", version="v2"):
            if event["event"] == "on_chain_end":
                return event["data"]["output"]
        return None

    assert asyncio.run(traced()) == ["one", "two"]
    assert [body.get("stream") for body in api.bodies] == [False]


def test_parallel_tool_calls_false_keeps_the_first_call_whatever_the_server_sends() -> None:
    # Hostile round 9: only sent (StepFun does not document the field), so a server answering
    # with two calls had an agent run both. LlamaIndex's adapter trims them too.
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": "{}"}}
        for i, name in enumerate(["get_weather", "get_time"])
    ]
    whole = completion_body({"role": "assistant", "content": "", "tool_calls": calls})
    pieces = sse(
        chunk(tool_calls=[{"index": 0, **calls[0]}]),
        chunk(tool_calls=[{"index": 1, **calls[1]}], finish="tool_calls"),
    )
    api = RecordingAPI(by_mode(whole, pieces))
    model = ChatStepFun(**api.options("http_async_client", api_key=KEY))
    tools = [{"type": "function", "function": {"name": n, "parameters": {}}} for n in ("a", "b")]
    for allowed, expected in ((False, ["get_weather"]), (None, ["get_weather", "get_time"])):
        bound = model.bind_tools(tools, parallel_tool_calls=allowed)
        said = bound.invoke("weather and time?")
        streamed: Any = None
        for piece in bound.stream("weather and time?"):
            streamed = piece if streamed is None else streamed + piece
        for message in (said, streamed):
            assert [c["name"] for c in message.tool_calls] == expected, allowed
            assert [c["id"] for c in message.tool_calls] == [
                f"call_{i}" for i in range(len(expected))
            ]
        assert all(body.get("parallel_tool_calls") is allowed for body in api.bodies[-2:])


def test_n_generations_hold_under_langgraphs_event_streams() -> None:
    # Review of round 9: langchain-core 1.8's v2 event handlers (LangGraph's stream_events
    # version="v3") take invoke down a second streaming path, which still refused n > 1.
    from langgraph.graph import END, START, StateGraph

    two = completion_body({"role": "assistant", "content": "one"})
    two["choices"].append({**two["choices"][0], "index": 1, "message": {"content": "two"}})
    api = RecordingAPI(by_mode(two, sse(chunk("one", finish="stop"))))
    model = ChatStepFun(**api.options("http_async_client", api_key=KEY, n=2))

    class State(TypedDict):
        texts: list[str]

    seen: list[list[str]] = []

    def node(state: State, config: RunnableConfig) -> State:
        run = model.generate([[HumanMessage("Name a colour.")]], callbacks=config.get("callbacks"))
        seen.append([generation.text for generation in run.generations[0]])
        return {"texts": seen[-1]}

    graph = StateGraph(State)
    graph.add_node("model", node)
    graph.add_edge(START, "model")
    graph.add_edge("model", END)
    compiled = graph.compile()
    list(compiled.stream({"texts": []}, stream_mode="messages"))
    if hasattr(compiled, "stream_events"):  # LangGraph 1.2 and newer
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the v3 protocol is announced as beta
            run = compiled.stream_events({"texts": []}, version="v3")
            list(run)
    assert seen == [["one", "two"]] * len(api.bodies)
    assert [body.get("stream") for body in api.bodies] == [False] * len(seen)


def test_a_calls_extra_body_that_is_not_a_dict_is_refused_by_name() -> None:
    # Review of round 9: the n lookup on every call looked inside it first (a bare TypeError).
    model = ChatStepFun(**RecordingAPI(json_reply(OK)).options("http_async_client", api_key=KEY))
    for value in (5, True, 1.5, "n"):
        with pytest.raises(StepFunInvalidParameterError, match="extra_body"):
            model.invoke("hi", extra_body=value)
