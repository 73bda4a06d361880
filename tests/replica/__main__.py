"""Run the replica standalone: ``python -m tests.replica --port 8765 [--events N]``.

``--deviate NAME`` (repeatable) turns on a deviation from the documented wire shapes and
``--key KEY`` (repeatable) accepts only those keys, so ``stepfun doctor --probe`` can be tried
by hand against a replica that differs.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.replica.behaviour import DEVIATIONS
from tests.replica.server import Replica


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted or until ``--timeout`` seconds have passed."""
    parser = argparse.ArgumentParser(prog="python -m tests.replica", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--events", type=int, default=None, help="content tokens per text reply")
    parser.add_argument("--token-delay-ms", type=float, default=0.0, help="sleep between events")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="stop after this many seconds"
    )
    parser.add_argument("--deviate", action="append", default=[], choices=sorted(DEVIATIONS))
    parser.add_argument("--key", action="append", default=[], help="accept only these keys")
    parser.add_argument(
        "--describe-models", action="store_true", help="GET /models states model details"
    )
    args = parser.parse_args(argv)
    replica = Replica(
        args.host, args.port, default_events=args.events, token_delay=args.token_delay_ms / 1000
    ).start()
    replica.deviate(*args.deviate)
    replica.describe_models(args.describe_models)
    if args.key:
        replica.accept_keys(*args.key)
    print(f"StepFun replica listening on {replica.base_url}", flush=True)
    try:
        time.sleep(args.timeout)
    except KeyboardInterrupt:
        pass
    finally:
        replica.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
