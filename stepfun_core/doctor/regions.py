"""StepFun's base URLs as a table the doctor can search: which region a URL is, and the others.

Keys are region-bound: a key of the other region gets 401 ``invalid_api_key`` with a body that
does not say which endpoint refused it (docs/wire.md#authentication). So on a 401 the
doctor asks the other URLs of this table with the same key. The table is a parameter of
`stepfun_core.doctor.run_doctor`, so tests can point its rows at loopback replicas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from stepfun_core.settings import (
    CHINA_BASE_URL,
    CHINA_STEP_PLAN_BASE_URL,
    INTERNATIONAL_BASE_URL,
    INTERNATIONAL_STEP_PLAN_BASE_URL,
)


@dataclass(frozen=True)
class Region:
    """One base URL and what it serves."""

    name: str
    base_url: str
    step_plan: bool = False

    @property
    def label(self) -> str:
        """How a line of the report names it: ``the China API``."""
        return f"the {self.name} API"


REGIONS: tuple[Region, ...] = (
    Region("international", INTERNATIONAL_BASE_URL),
    Region("China", CHINA_BASE_URL),
    Region("international Step Plan", INTERNATIONAL_STEP_PLAN_BASE_URL, step_plan=True),
    Region("China Step Plan", CHINA_STEP_PLAN_BASE_URL, step_plan=True),
)


def _same_url(a: str, b: str) -> bool:
    return _compared(a) == _compared(b)


def _compared(url: str) -> tuple[str | int | None, ...]:
    """What tells two base URLs apart: not a default port, a trailing dot or slash, or case."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return (url.rstrip("/").lower(),)
    path = parsed.path.rstrip("/").lower()
    return (parsed.scheme, parsed.host.rstrip("."), parsed.port, path)


def region_of(base_url: str, regions: Sequence[Region] = REGIONS) -> Region | None:
    """The row of ``base_url``, or None for a URL of its own (a gateway, the replica)."""
    return next((r for r in regions if _same_url(r.base_url, base_url)), None)


def other_regions(base_url: str, regions: Sequence[Region] = REGIONS) -> list[Region]:
    """Every other row, most likely first: the same kind of URL (plan or not) in the other region.

    A Step Plan key is more likely meant for a Step Plan URL than for pay-as-you-go, so rows of
    the current row's kind come first; a URL outside the table tries the rows in table order.
    """
    current = region_of(base_url, regions)
    others = [r for r in regions if r is not current and not _same_url(r.base_url, base_url)]
    if current is None:
        return others
    return sorted(others, key=lambda r: r.step_plan != current.step_plan)
