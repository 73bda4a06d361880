"""A smoke test of the installed wheel, run by ``tests/test_release.py`` in a fresh venv.

Run as ``<fresh venv>/bin/python -I wheel_smoke.py <fresh venv> <version>`` from a directory that
holds no checkout, so every ``import`` of our packages must resolve to the wheel. Each package
makes one call through an ``httpx.MockTransport`` (no socket): the core client, LangChain's
``ChatStepFun.invoke`` and LlamaIndex's ``StepFun.chat``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

COMPLETION = {
    "id": "chatcmpl-smoke",
    "object": "chat.completion",
    "created": 1,
    "model": "step-3.5-flash",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "pong", "reasoning": "A ping."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}


def handler(request: httpx.Request) -> httpx.Response:
    assert request.url.path.endswith("/chat/completions"), request.url
    assert request.headers["authorization"] == "Bearer sk-smoke"
    body = json.loads(request.content)
    assert body["model"] == "step-3.5-flash", body
    return httpx.Response(200, json=COMPLETION)


def client() -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def main() -> None:
    venv, version = Path(sys.argv[1]).resolve(), sys.argv[2]

    import langchain_stepfun
    import llama_index_stepfun
    import stepfun_core

    for package in (stepfun_core, langchain_stepfun, llama_index_stepfun):
        where = Path(str(package.__file__)).resolve()
        assert where.is_relative_to(venv), f"{package.__name__} from {where}, not the wheel"
        assert package.__version__ == version, (package.__name__, package.__version__)

    core = stepfun_core.StepFunClient(api_key="sk-smoke", http_client=client())
    payload = stepfun_core.build_chat_request(
        "step-3.5-flash", [{"role": "user", "content": "ping"}]
    )
    completion = core.create(payload)
    assert completion.first.content == "pong", completion
    assert completion.first.reasoning == "A ping.", completion

    chat = langchain_stepfun.ChatStepFun(
        model="step-3.5-flash", api_key="sk-smoke", http_client=client()
    )
    message = chat.invoke("ping")
    assert message.content == "pong", message
    assert message.additional_kwargs["reasoning_content"] == "A ping.", message

    from llama_index.core.llms import ChatMessage

    llm = llama_index_stepfun.StepFun(
        model="step-3.5-flash", api_key="sk-smoke", http_client=client()
    )
    response = llm.chat([ChatMessage(role="user", content="ping")])
    assert response.message.content == "pong", response

    print(f"wheel smoke test passed: stepfun-integrations {version} from {venv}")


if __name__ == "__main__":
    main()
