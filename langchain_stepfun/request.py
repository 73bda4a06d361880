"""The request body of one call: the model's fields, its extras, then the call's kwargs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import stepfun_core as core
from langchain_stepfun.errors import LangChainErrors
from langchain_stepfun.messages import to_wire_messages
from stepfun_core.request import echo_mode

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from langchain_stepfun.chat_models import ChatStepFun

# Request fields taken from the model's attributes, in the order they are sent (a stable key
# order keeps bodies byte-identical, so cassettes match).
PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "n",
    "stop",
    "frequency_penalty",
    "response_format",
    "reasoning_effort",
    "reasoning_format",
)
# Per-call keyword arguments that steer ChatStepFun and are never sent.
LOCAL_KWARGS = ("stream", "stream_usage", "echo_reasoning")
# Settings of ChatOpenAI's client that users paste: they belong in no request body (a proxy's
# password would be sent to the API and kept in traces), so they are refused with our way.
CLIENT_SETTINGS = {
    "openai_proxy": "pass http_client=httpx.Client(proxy=...) or set HTTPS_PROXY",
    "default_query": "put the query in base_url",
    "http_socket_options": "pass your own http_client",
    "openai_organization": "StepFun has no organizations",
    "organization": "StepFun has no organizations",
    "include_response_headers": "ChatStepFun has no such setting",
    "disabled_params": "ChatStepFun has no such setting",
    "use_responses_api": "StepFun serves Chat Completions only",
    "tiktoken_model_name": "ChatStepFun counts tokens with its own estimate",
}


def refuse_client_settings(names: Iterable[str]) -> None:
    """Refuse ChatOpenAI's client settings, naming each and what to do instead."""
    for name in sorted(CLIENT_SETTINGS.keys() & set(names)):
        msg = f"{name}: a setting of ChatOpenAI's client, never sent: {CLIENT_SETTINGS[name]}"
        raise core.InvalidParameterError(msg)


def generations(chat: ChatStepFun, kwargs: Mapping[str, Any]) -> Any:
    """The ``n`` one call would send: the last of the places ``request_body`` merges in order."""
    for place in (kwargs.get("extra_body"), kwargs, chat.extra_body, chat.model_kwargs):
        if place and isinstance(place, Mapping) and "n" in place:  # on every call: None first
            return place["n"]
    return chat.n


def request_body(
    chat: ChatStepFun,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Fields, then ``model_kwargs`` and ``extra_body``, then the call's kwargs (which win).

    Checked by the core before anything is sent; a problem raises, naming the field.
    """
    params = {name: getattr(chat, name) for name in PARAMS}
    model = kwargs.pop("model", None)
    model = chat.model if model is None else model  # "" is refused, not taken as unset
    call_extra = kwargs.pop("extra_body", None)
    with LangChainErrors():
        refuse_client_settings(kwargs)
        echo = echo_mode(kwargs.get("echo_reasoning") or chat.echo_reasoning)
        for name in LOCAL_KWARGS:
            kwargs.pop(name, None)
        # Its extra_headers are headers (CoreClients._core_client), never in the body.
        body_kwargs = {k: v for k, v in chat.model_kwargs.items() if k != "extra_headers"}
        core.merge_extra(params, body_kwargs, "model_kwargs")
        core.merge_extra(params, chat.extra_body, "extra_body")
        called = kwargs.pop("stop", None)  # stop_sequences=, made "stop" (None: not given)
        if stop is not None and called not in (None, stop):
            raise core.InvalidParameterError("stop: given twice, with two values: give one")
        if stop is not None or called is not None:
            params["stop"] = stop if stop is not None else called
        core.merge_extra(params, kwargs, "the call's keyword arguments")
        core.merge_extra(params, call_extra, "extra_body")
        if not params.get("stop"):
            params["stop"] = None  # an empty list means "no stop sequences"
        return core.build_chat_request(model, to_wire_messages(messages, echo), **params)
