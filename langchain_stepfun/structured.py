"""``with_structured_output`` for ChatStepFun: function calling, JSON mode and JSON schema."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.output_parsers import (
    JsonOutputKeyToolsParser,
    JsonOutputParser,
    PydanticOutputParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableMap
from langchain_core.runnables.utils import AddableDict
from langchain_core.utils.pydantic import is_basemodel_subclass

from langchain_stepfun.errors import (
    StepFunCutOffError,
    StepFunInvalidParameterError,
    StepFunRefusalError,
)
from langchain_stepfun.outputs import REFUSAL_KEY, UNPARSED_KEY
from langchain_stepfun.tools import check_flag, openai_tool
from stepfun_core import get_model_info
from stepfun_core.json_mode import unfenced
from stepfun_core.types import CUT_OFF_PROBLEM, refusal_problem

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_core.output_parsers import BaseOutputParser

    from langchain_stepfun.chat_models import ChatStepFun

Method = Literal["function_calling", "json_mode", "json_schema"]
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def raise_on_refusal(message: BaseMessage) -> None:
    """Raise if the reply withheld its content (filter or refusal) or was cut at max_tokens."""
    refusal = message.additional_kwargs.get(REFUSAL_KEY)
    finish_reason = message.response_metadata.get("finish_reason")
    if (problem := refusal_problem(refusal, finish_reason)) is not None:
        raise StepFunRefusalError(problem, raw_message=message)
    # LangChain's parsers complete cut JSON, so a cut reply parsed as a whole object (ChatOpenAI
    # raises LengthFinishReasonError here).
    if finish_reason == "length":
        raise StepFunCutOffError(CUT_OFF_PROBLEM, raw_message=message)


class _ReplyCheck:
    """Raise on a refusal, and on a reply (or a whole stream) that did not call ``tool``."""

    # A model that is not forced may answer in prose; LangChain's tool parsers give None then.

    def __init__(self, tool: str | None, *, whole_json: bool = False) -> None:
        self.tool, self.called, self.text = tool, False, ""
        # json_schema: the reply must be one whole JSON value, as the server promises (LangChain's
        # parsers would complete a cut one, or take the first of two); ChatOpenAI's raise.
        self.whole_json = whole_json
        self.pieces: list[str] = []
        self.invalid: list[Any] = []  # calls whose arguments are not JSON
        self.unparsed: list[str] = []  # the same, streamed (LangChain guessed their arguments)
        self.first: str | None = None  # the first call's id: the one the parser reads

    def see(self, message: BaseMessage) -> BaseMessage:
        raise_on_refusal(message)
        calls = getattr(message, "tool_call_chunks", None) or getattr(message, "tool_calls", [])
        self.called = self.called or bool(calls)
        if self.first is None:
            self.first = next((c["id"] for c in calls if c.get("id")), None)
        self.invalid = getattr(message, "invalid_tool_calls", None) or self.invalid
        self.unparsed = message.response_metadata.get(UNPARSED_KEY) or self.unparsed
        self.text += message.text if len(self.text) < 200 else ""
        if self.whole_json:
            self.pieces.append(message.text)
        return message

    def end(self) -> None:
        if self.whole_json:
            text = "".join(self.pieces)
            try:
                json.loads(unfenced(text))  # a fence is no part of the JSON
            except ValueError:
                msg = f"the reply is not one whole JSON value: {text[:200]!r}"
                raise OutputParserException(msg, llm_output=text) from None
        if self.tool is not None and self.first in self.unparsed:
            msg = f"the model called {self.tool!r} with arguments that are not a JSON object"
            raise OutputParserException(msg, llm_output=str(self.unparsed))
        if self.tool is None or self.called:
            return
        if self.invalid:
            args = str(self.invalid[0].get("args"))
            msg = f"the model called {self.tool!r} with arguments that are not JSON: {args[:200]!r}"
            raise OutputParserException(msg, llm_output=args)
        msg = f"the model answered without calling {self.tool!r}: {self.text[:200]!r}"
        raise OutputParserException(msg, llm_output=self.text)


def _reply_check(tool: str | None, *, whole_json: bool) -> RunnableGenerator[Any, Any]:
    def check(messages: Iterator[BaseMessage]) -> Iterator[BaseMessage]:
        state = _ReplyCheck(tool, whole_json=whole_json)
        yield from map(state.see, messages)
        state.end()

    async def acheck(messages: AsyncIterator[BaseMessage]) -> AsyncIterator[BaseMessage]:
        state = _ReplyCheck(tool, whole_json=whole_json)
        async for message in messages:
            yield state.see(message)
        state.end()

    return RunnableGenerator(check, acheck)


def _unwrapped(schema: Any, strict: bool | None) -> tuple[Any, bool | None]:
    """OpenAI's ``json_schema`` spec as the function it describes, with its ``strict``.

    ChatOpenAI takes the spec (``{"name", "schema"}``); any other schema is returned as it is.
    """
    if not (isinstance(schema, Mapping) and "name" in schema and "schema" in schema):
        return schema, strict
    function = {"name": schema["name"], "parameters": schema["schema"]}
    if schema.get("description"):
        function["description"] = schema["description"]
    return function, schema.get("strict") if strict is None else strict


def json_schema_format(schema: Any, *, strict: bool | None = None) -> dict[str, Any]:
    """The API's ``response_format`` for a schema; a ``response_format`` dict is kept as is."""
    if isinstance(schema, Mapping) and schema.get("type") in ("json_schema", "json_object"):
        return dict(schema)
    schema, strict = _unwrapped(schema, strict)
    function = openai_tool(schema, "schema", strict=strict)["function"]
    spec: dict[str, Any] = {
        "name": _NAME_CHARS.sub("_", function["name"])[:64] or "output",
        "schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def structured_output(
    model: ChatStepFun,
    schema: Any,
    *,
    method: Method = "function_calling",
    include_raw: bool = False,
    strict: bool | None = None,
) -> Runnable[Any, Any]:
    """Bind ``model`` so that it answers with data matching ``schema``, then parse it."""
    if schema is None and method != "json_mode":
        msg = f"schema is required for method={method!r}"
        raise StepFunInvalidParameterError(msg)
    check_flag("strict", strict)
    if isinstance(schema, type) and issubclass(schema, enum.Enum):
        # LangChain would describe the Enum constructor as a function (its arguments, its
        # docstring), and the answer parse to {}; langchain-openai refuses it too.
        msg = "schema: an Enum is not a schema; wrap it in a Pydantic model's field"
        raise StepFunInvalidParameterError(msg)
    ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
    schema, strict = _unwrapped(schema, strict)
    parser: BaseOutputParser[Any]
    if method == "function_calling":
        name = openai_tool(schema, "schema")["function"]["name"]
        # Thinking models may refuse a forced tool_choice (langchain-contract §3 item 8) and the
        # API documents only "auto": let reasoning models choose; force the others.
        llm: Runnable[Any, Any] = model.bind_tools(
            [schema],
            tool_choice=None if get_model_info(model.model).reasoning else name,
            strict=strict,
            ls_structured_output_format=ls_format,
        )
        parser = (
            PydanticToolsParser(tools=[schema], first_tool_only=True)
            if is_basemodel_subclass(schema)
            else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        )
    elif method in ("json_mode", "json_schema"):
        if method == "json_schema":
            response_format = json_schema_format(schema, strict=strict)
        elif strict is not None:
            msg = "strict is not supported with method='json_mode'; use 'json_schema'"
            raise StepFunInvalidParameterError(msg)
        else:
            response_format = {"type": "json_object"}
            ls_format["kwargs"] = {"method": method}
        llm = model.bind(response_format=response_format, ls_structured_output_format=ls_format)
        parser = (
            PydanticOutputParser(pydantic_object=schema)
            if is_basemodel_subclass(schema)
            else JsonOutputParser()
        )
    else:
        msg = f"method must be function_calling, json_mode or json_schema, got {method!r}"
        raise StepFunInvalidParameterError(msg)
    tool = name if method == "function_calling" else None
    checked = _reply_check(tool, whole_json=method == "json_schema") | parser
    if not include_raw:
        return llm | checked
    return RunnableMap(raw=llm) | _with_raw(checked)


def _with_raw(checked: Runnable[Any, Any]) -> RunnableGenerator[Any, Any]:
    """``include_raw``: the raw reply as it streams, then what was parsed from all of it."""
    # A parse error is ``parsing_error``: LangChain's fallbacks cannot catch one raised once a
    # stream has begun.

    def transform(chunks: Iterator[dict[str, Any]]) -> Iterator[AddableDict]:
        raw = None
        for chunk in chunks:
            raw = chunk["raw"] if raw is None else raw + chunk["raw"]
            yield AddableDict(chunk)
        try:
            yield AddableDict(parsed=checked.invoke(raw), parsing_error=None)
        except Exception as exc:  # as LangChain's include_raw fallback catches
            yield AddableDict(parsed=None, parsing_error=exc)

    async def atransform(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[AddableDict]:
        raw = None
        async for chunk in chunks:
            raw = chunk["raw"] if raw is None else raw + chunk["raw"]
            yield AddableDict(chunk)
        try:
            yield AddableDict(parsed=await checked.ainvoke(raw), parsing_error=None)
        except Exception as exc:
            yield AddableDict(parsed=None, parsing_error=exc)

    return RunnableGenerator(transform, atransform)
