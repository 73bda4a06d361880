"""``stepfun doctor``: diagnose a StepFun setup, and prove the wire against the live API.

Steps, each a line with a verdict: configuration, reachability (DNS, TCP, TLS), key and region
(``GET /models``, and the other regions on a 401), models (served list beside the catalog),
and with ``--probe`` one small request per wire assumption of `ASSUMPTIONS`. It uses the core's
own client, so what it proves about the wire is what the adapters rely on, and it imports no
framework (versions come from package metadata). See the README's Troubleshooting section.
"""

from stepfun_core.doctor.assumptions import ASSUMPTIONS, Assumption, assumptions_markdown
from stepfun_core.doctor.regions import REGIONS, Region
from stepfun_core.doctor.report import Check, Outcome, ProbeResult, Report, Verdict
from stepfun_core.doctor.runner import DoctorOptions, run_doctor

__all__ = [
    "ASSUMPTIONS",
    "REGIONS",
    "Assumption",
    "Check",
    "DoctorOptions",
    "Outcome",
    "ProbeResult",
    "Region",
    "Report",
    "Verdict",
    "assumptions_markdown",
    "run_doctor",
]
