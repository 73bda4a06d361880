"""``stepfun doctor``: diagnose a StepFun setup.

Steps, each a line with a verdict: configuration, reachability (DNS, TCP, TLS), key and region
(``GET /models``, and the other regions on a 401), models (served list beside the catalog). It
uses the core's own client and imports no framework (versions come from package metadata). See
the README's Troubleshooting section.

Step 5, ``--probe`` (one small request per wire assumption) and ``--record``, is maintainers'
tooling in `stepfun_probes` (the ``doctor`` extra), imported only when a probe option is given.
"""

from stepfun_core.doctor.regions import REGIONS, Region
from stepfun_core.doctor.report import Check, Outcome, ProbeResult, Report, Verdict
from stepfun_core.doctor.runner import DoctorOptions, ProbesNotInstalledError, run_doctor

__all__ = [
    "REGIONS",
    "Check",
    "DoctorOptions",
    "Outcome",
    "ProbeResult",
    "ProbesNotInstalledError",
    "Region",
    "Report",
    "Verdict",
    "run_doctor",
]
