"""A loopback replica of the StepFun Chat Completions API, for tests and benchmarks.

Start it with ``Replica().start()`` (or ``with Replica() as replica:``) or standalone with
``python -m tests.replica --port 8765``. Queue faults with ``replica.enqueue(Fault.status(429))``.
"""

from tests.replica.brain import Reply, think
from tests.replica.faults import Fault, error_body
from tests.replica.server import MARKER_HEADER, MARKER_VALUE, RecordedRequest, Replica

__all__ = [
    "MARKER_HEADER",
    "MARKER_VALUE",
    "Fault",
    "RecordedRequest",
    "Replica",
    "Reply",
    "error_body",
    "think",
]
