"""The assumption table is the one source: probes, docs and the replica's deviations follow it."""

from __future__ import annotations

import re
from pathlib import Path

from stepfun_probes.assumptions import ASSUMPTIONS, REPLICA_ONLY, assumptions_markdown
from stepfun_probes.probes import PROBES
from tests.doctor.probes.test_probes import CASES
from tests.replica import Replica
from tests.replica.behaviour import DEVIATIONS

REPO = Path(__file__).resolve().parents[3]


def assumptions_section() -> str:
    """CONTRIBUTING.md's section on the wire assumptions, up to the next top-level heading."""
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    start = text.index("## The wire assumptions and their status\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_one_probe_per_assumption_in_the_same_order() -> None:
    assert list(PROBES) == [a.id for a in ASSUMPTIONS]
    assert len({a.id for a in ASSUMPTIONS}) == len(ASSUMPTIONS)


def test_the_docs_carry_the_generated_table() -> None:
    text = assumptions_section()
    assert assumptions_markdown() in text, "paste assumptions_markdown() into CONTRIBUTING.md"
    table = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert len([line for line in table if re.search(r"\| `[a-z-]+` \|", line)]) == len(ASSUMPTIONS)


def test_each_status_is_replica_only_or_a_live_result() -> None:
    for assumption in ASSUMPTIONS:
        assert assumption.status == REPLICA_ONLY or assumption.status.startswith("live: ")
        # Each cites a section of the wire notes that exists.
        anchors = re.findall(
            r'<a id="([a-z0-9-]+)"', (REPO / "docs" / "wire.md").read_text("utf-8")
        )
        assert assumption.section.startswith("#") and assumption.section[1:] in anchors


def test_the_troubleshooting_page_starts_with_the_command() -> None:
    lines = (REPO / "docs" / "troubleshooting.md").read_text("utf-8").splitlines()
    assert lines[0] == "# Troubleshooting"
    assert lines[2:4] == [
        "```bash",
        "stepfun doctor                      # or: python -m stepfun_core.doctor",
    ]


def test_every_replica_deviation_makes_a_probe_differ() -> None:
    used = set()
    for _, setup, _, _, _ in CASES:
        replica = Replica()
        setup(replica)
        used |= replica.behaviour.deviations
    assert used == set(DEVIATIONS)
