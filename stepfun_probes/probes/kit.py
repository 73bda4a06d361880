"""What every probe uses: the context, findings, and the shared tools, prompts and budgets.

The context holds the client, the exchange log and the served models. A probe sends one small
request (a few send two or three) through the same `StepFunClient` the adapters use, then judges
the exact bytes the server sent, which the exchange log kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stepfun_core.catalog import ModelInfo, get_model_info
from stepfun_core.client import StepFunClient
from stepfun_core.doctor.report import Outcome
from stepfun_core.errors import BadRequestError, NotFoundError, StepFunError
from stepfun_core.request import build_chat_request
from stepfun_core.types import Completion
from stepfun_probes.capture import Exchange, ExchangeLog

# Shape probes only need the first tokens; reasoning models think before they call a tool or
# write JSON, so those probes allow more (a probe run stays well under a cent: docs/wire.md#models).
SHAPE_BUDGET = 64
ANSWER_BUDGET = 1024


def function_tool(name: str, description: str) -> dict[str, Any]:
    """A one-parameter (``city``) function tool."""
    parameters = {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "The city name"}},
        "required": ["city"],
    }
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


WEATHER = function_tool("get_weather", "Get the current weather in a city.")
TIME = function_tool("get_time", "Get the current local time in a city.")
ASK_WEATHER = "What is the weather in Paris right now? Use get_weather."
ASK_BOTH = "Call get_weather and get_time for Paris, both in this one turn."


@dataclass
class Finding:
    """A probe's verdict, its one line, and the observed shape when it differs."""

    outcome: Outcome
    detail: str
    model: str | None = None
    observed: Any = None


def as_expected(detail: str, model: str | None) -> Finding:
    """The wire matched the notes."""
    return Finding(Outcome.AS_EXPECTED, detail, model)


def differs(detail: str, model: str | None, observed: Any = None) -> Finding:
    """The wire did something else; ``observed`` is what it sent (trimmed in the report)."""
    return Finding(Outcome.DIFFERS, detail, model, observed)


def unsupported(detail: str, model: str | None = None) -> Finding:
    """The API refused the feature, or no served model can try it."""
    return Finding(Outcome.UNSUPPORTED, detail, model)


def failed(detail: str, model: str | None = None) -> Finding:
    """The probe could not run (a server or network error, an answer it cannot judge)."""
    return Finding(Outcome.ERROR, detail, model)


@dataclass
class Sent:
    """One request of a probe: the typed result or error, and the exchange as it crossed."""

    exchange: Exchange | None
    completion: Completion | None = None
    error: StepFunError | None = None

    @property
    def status(self) -> int | None:
        """The HTTP status (None when no response arrived)."""
        return self.exchange.status if self.exchange else None

    def body(self) -> Any:
        """The JSON body as sent (None for a stream or a non-JSON body)."""
        return self.exchange.json() if self.exchange else None

    def message(self) -> dict[str, Any]:
        """``choices[0].message`` of a JSON reply, as sent."""
        body = self.body()
        message = first_choice(body).get("message") if isinstance(body, dict) else None
        return message if isinstance(message, dict) else {}

    def events(self) -> list[Any]:
        """Every ``data:`` payload of a stream, as sent."""
        return self.exchange.events() if self.exchange else []

    def chunks(self) -> list[dict[str, Any]]:
        """The JSON chunks of a stream (``[DONE]`` left out)."""
        return [e for e in self.events() if isinstance(e, dict)]


def refusal(sent: Sent, model: str | None) -> Finding | None:
    """The finding for a request that failed: refused (400, 404) or broken; None if it worked."""
    error = sent.error
    if error is None:
        return None
    if isinstance(error, (BadRequestError, NotFoundError)):
        return unsupported(
            f"refused: {error.status_code} {error.error_type}: {error.message}", model
        )
    return failed(str(error), model)


def cut_short(sent: Sent, model: str | None) -> Finding | None:
    """An ``error`` finding when the answer ended at ``max_tokens`` before it said anything.

    A reasoning model can spend the whole budget thinking (docs/wire.md#reasoning-budget); then
    there is nothing to judge, which is not a difference of the wire.
    """
    choice = sent.completion.first if sent.completion and sent.completion.choices else None
    if choice is None or choice.finish_reason != "length" or choice.content or choice.tool_calls:
        return None
    return failed("the answer was cut at max_tokens while thinking; run the probe again", model)


def first_choice(chunk: Mapping[str, Any]) -> dict[str, Any]:
    """``choices[0]`` of a chunk, or {}."""
    choices = chunk.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, dict) else {}


def delta_of(chunk: Mapping[str, Any]) -> dict[str, Any]:
    """``choices[0].delta`` of a chunk, or {}."""
    delta = first_choice(chunk).get("delta")
    return delta if isinstance(delta, dict) else {}


class ProbeContext:
    """What a probe may use: the client, the exchange log, the probe model and the served list."""

    def __init__(
        self, client: StepFunClient, log: ExchangeLog, model: str, served: Sequence[str]
    ) -> None:
        self.client = client
        self.log = log
        self.model = model
        self.served = list(served)

    def pick_model(self, wanted: Callable[[ModelInfo], bool]) -> str | None:
        """The probe model if it fits, else the first served catalog model that does."""
        if wanted(get_model_info(self.model)):
            return self.model
        for name in self.served:
            info = get_model_info(name)
            if info.known and wanted(info):
                return name
        return None

    @staticmethod
    def request(model: str, prompt: str | list[dict[str, Any]], **params: Any) -> dict[str, Any]:
        """A request body checked by the core, exactly as the adapters build theirs."""
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        return build_chat_request(model, messages, **params)

    def _last_exchange(self, start: int) -> Exchange | None:
        sent = self.log.since(start)
        return sent[-1] if sent else None

    def create(self, payload: Mapping[str, Any], client: StepFunClient | None = None) -> Sent:
        """A non-streaming request (through ``client`` if given); failures are returned."""
        start = len(self.log.exchanges)
        try:
            completion = (client or self.client).create(payload)
        except StepFunError as exc:
            return Sent(self._last_exchange(start), error=exc)
        return Sent(self._last_exchange(start), completion)

    def stream(self, payload: Mapping[str, Any]) -> Sent:
        """A streamed request read to the end; failures are returned, not raised."""
        start = len(self.log.exchanges)
        try:
            with self.client.stream(payload) as stream:
                for _ in stream:
                    pass
            return Sent(self._last_exchange(start), stream.completion())
        except StepFunError as exc:
            return Sent(self._last_exchange(start), error=exc)
