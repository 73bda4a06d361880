"""The tour: ``python -m examples`` runs every example in order, offline unless a key is set.

Usage: ``python -m examples [--record] [--list] [--traceback] [SECTION ...]`` where SECTION is
a number (``3``) or a module name (``langgraph_agent``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from examples._replay import Session, TourError, explain


@dataclass(frozen=True)
class Section:
    """One example script: its module in ``examples/`` and the heading printed before it."""

    module: str
    title: str


SECTIONS = (
    Section("langchain_chain", "LangChain: an LCEL chain (prompt | ChatStepFun | output parser)"),
    Section("langchain_streaming", "LangChain: streaming the reasoning, the answer, then usage"),
    Section("langgraph_agent", "LangGraph: an agent calls two tools in one turn, then answers"),
    Section("langchain_structured", "LangChain: a Pydantic object from with_structured_output"),
    Section("langchain_vision", "LangChain: a question about a PNG, sent as base64"),
    Section("llamaindex_rag", "LlamaIndex: RAG with BM25 retrieval, answering with citations"),
    Section("llamaindex_agent", "LlamaIndex: a FunctionAgent streams thinking and tool calls"),
)


def _style(code: str) -> tuple[str, str]:
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        return f"\033[{code}m", "\033[0m"
    return "", ""


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples",
        description="A tour of the StepFun integrations for LangChain, LangGraph and LlamaIndex. "
        "Without STEP_API_KEY it replays recorded responses; with it, it calls the real API.",
    )
    parser.add_argument(
        "sections", nargs="*", help="section numbers or module names (default: all)"
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="re-record cassettes/examples/ (from the real API when STEP_API_KEY is set, "
        "else from the loopback replica in tests/replica)",
    )
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--traceback", action="store_true", help="show tracebacks on errors")
    return parser.parse_args(argv)


def _select(wanted: Sequence[str]) -> list[tuple[int, Section]]:
    numbered = list(enumerate(SECTIONS, start=1))
    if not wanted:
        return numbered
    chosen = []
    for item in wanted:
        match = [(n, s) for n, s in numbered if item in (str(n), s.module, f"{s.module}.py")]
        if not match:
            names = ", ".join(f"{n}={s.module}" for n, s in numbered)
            raise TourError(f"unknown section {item!r}; choose from {names}")
        chosen.extend(match)
    return chosen


def _run(module: str) -> None:
    main = importlib.import_module(f"examples.{module}").main
    result = main()
    if inspect.iscoroutine(result):
        asyncio.run(result)


def _quiet_libraries() -> None:
    """Keep library warnings and logs out of the tour's output (the scripts stay untouched)."""
    warnings.simplefilter("ignore")
    logging.getLogger("vcr").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tour; returns the exit status."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    bold, plain = _style("1")
    if args.list:
        for number, section in enumerate(SECTIONS, start=1):
            print(f"{number}. {section.title}  (examples/{section.module}.py)")
        return 0
    _quiet_libraries()
    session: Session | None = None
    number, section = 0, SECTIONS[0]
    try:
        chosen = _select(args.sections)
        session = Session.start(record=args.record)
        print(f"{bold}StepFun integrations for LangChain, LangGraph and LlamaIndex: a tour{plain}")
        print(session.describe([s.module for _, s in chosen]))
        started = time.perf_counter()
        for number, section in chosen:
            print(f"\n{bold}== {number}. {section.title} =={plain}")
            print(f"   (examples/{section.module}.py)\n", flush=True)
            with session.cassette(section.module):
                _run(section.module)
            sys.stdout.flush()
        elapsed = time.perf_counter() - started
        count = f"{len(chosen)} example{'s' if len(chosen) > 1 else ''}"
        print(f"\n{bold}Done:{plain} {count} in {elapsed:.1f} s.")
        if session.mode == "record":
            print(f"Cassettes written to {session.cassettes}.")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure ends in one line saying what to do
        if args.traceback:
            traceback.print_exc()
        where = f"section {number} ({section.module}): " if number else ""
        message = explain(error, section.module, session) if session else str(error)
        print(f"\nerror: {where}{message}", file=sys.stderr)
        return 1
    finally:
        if session is not None:
            session.close()


if __name__ == "__main__":
    sys.exit(main())
