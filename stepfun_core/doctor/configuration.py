"""Step 1, configuration: the key's source and shape, the base URL, versions, proxy variables.

The base URL's region, the installed versions of our packages and both frameworks, and the proxy
and certificate variables in effect are reported too. The key is found exactly as the clients find
it (`stepfun_core.settings.find_api_key`) and is never shown, not even in part: a line says where
it came from and what is wrong with it.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass

from stepfun_core.doctor.proxy import (
    CERTIFICATE_VARIABLES,
    proxy_for,
    proxy_problem,
    proxy_variables,
)
from stepfun_core.doctor.regions import REGIONS, Region, region_of
from stepfun_core.doctor.report import CONFIGURATION, Check, Verdict
from stepfun_core.errors import InvalidParameterError
from stepfun_core.pools import environment_problem
from stepfun_core.redact import display_url, redact_url
from stepfun_core.settings import (
    API_KEY_ENV_VARS,
    check_base_url,
    find_api_key,
    find_base_url,
    key_problem,
)

# Our distribution, its two runtime dependencies, and both frameworks (read from package
# metadata: importing a framework here would load it into the core).
DISTRIBUTIONS = ("stepfun-integrations", "httpx", "pydantic", "langchain-core", "llama-index-core")
GET_A_KEY = (
    "create a key in the StepFun console (https://platform.stepfun.ai for the international API,"
    " https://platform.stepfun.com for China), then `export STEP_API_KEY=...` and run "
    "`stepfun doctor` again"
)
ENCODE_PASSWORD = (
    "percent-encode the proxy's user name and password (/ as %2F, # as %23, ? as %3F, @ as %40)"
)
RECOPY_KEY = (
    "copy the key again from the StepFun console: keys are plain ASCII letters, digits and "
    "punctuation"
)


@dataclass(frozen=True)
class Setup:
    """What the later steps need: the key, the base URL, its region and the proxy in effect."""

    api_key: str
    base_url: str
    region: Region | None
    proxy: str | None


def check_configuration(
    api_key: str | None, base_url: str | None, regions: Sequence[Region] = REGIONS
) -> tuple[list[Check], Setup | None]:
    """The configuration lines, and the setup (None when the key or base URL is unusable)."""
    key_check, key = _key_check(api_key)
    url_check, url = _base_url_check(base_url, regions)
    checks = [key_check, *_shadowed_key(api_key), url_check, _versions()]
    proxy = proxy_for(url) if url else None
    proxy_line = _proxy_check(proxy)
    checks += [proxy_line, _certificates()]
    # What the clients' shared pool refuses (any proxy variable, even one this URL does not
    # use: httpx reads them all), named as the clients name it, no password shown.
    problem = environment_problem()
    if problem is not None:
        fix = "correct or unset the variable; the clients refuse it the same way"
        checks.append(Check(CONFIGURATION, "environment", Verdict.FAIL, problem.message, fix))
    if key is None or url is None or proxy_line.failed or problem is not None:
        return checks, None
    return checks, Setup(key, url, region_of(url, regions), proxy)


def _key_check(explicit: str | None) -> tuple[Check, str | None]:
    found = find_api_key(explicit, argument="--api-key")
    if found is None:
        detail = "no key: --api-key not given, and neither STEP_API_KEY nor STEPFUN_API_KEY is set"
        return Check(CONFIGURATION, "API key", Verdict.FAIL, detail, GET_A_KEY), None
    problem = key_problem(found.value)
    if problem is not None:
        detail = f"the key from the {found.source} {problem}"
        return Check(CONFIGURATION, "API key", Verdict.FAIL, detail, RECOPY_KEY), None
    detail = f"from the {found.source}; {len(found.value)} characters, printable ASCII"
    data = {"source": found.source, "length": len(found.value)}
    return Check(CONFIGURATION, "API key", Verdict.OK, detail, data=data), found.value


def _shadowed_key(explicit: str | None) -> list[Check]:
    """Both key variables set to different keys: the first wins, which surprises people."""
    values = [os.environ.get(name, "").strip() for name in API_KEY_ENV_VARS]
    if (explicit or "").strip() or not all(values) or values[0] == values[1]:
        return []
    first, second = API_KEY_ENV_VARS
    detail = f"{first} and {second} hold different keys; {first} is used"
    fix = f"unset {second}, or put the key you mean in {first}"
    return [Check(CONFIGURATION, "key variables", Verdict.WARN, detail, fix, needed=False)]


def _base_url_check(explicit: str | None, regions: Sequence[Region]) -> tuple[Check, str | None]:
    found = find_base_url(explicit, argument="--base-url")
    try:
        url = check_base_url(found.value, found.source)
    except InvalidParameterError as exc:
        fix = "set STEP_BASE_URL to one of " + ", ".join(r.base_url for r in regions)
        return Check(CONFIGURATION, "base URL", Verdict.FAIL, str(exc), fix), None
    region = region_of(url, regions)
    where = region.label if region else "a URL of its own (not one of StepFun's)"
    shown = display_url(url)  # a token in the query stays out of a report meant to be shared
    data = {"base_url": shown, "source": found.source, "region": region.name if region else None}
    detail = f"{shown} (from the {found.source}): {where}"
    return Check(CONFIGURATION, "base URL", Verdict.OK, detail, data=data), url


def installed_versions() -> dict[str, str | None]:
    """Versions from package metadata; None for a distribution that is not installed."""
    versions: dict[str, str | None] = {}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _versions() -> Check:
    versions = installed_versions()
    shown = [f"{name} {version or 'not installed'}" for name, version in versions.items()]
    detail = ", ".join([*shown, f"Python {platform.python_version()}"])
    return Check(CONFIGURATION, "versions", Verdict.INFO, detail, data={"versions": versions})


def _proxy_check(proxy: str | None) -> Check:
    variables = proxy_variables()
    if not variables:
        return Check(CONFIGURATION, "proxy", Verdict.INFO, "no proxy variable is set")
    listed = ", ".join(f"{name}={value}" for name, value in variables.items())
    shown = redact_url(proxy) if proxy else None
    data = {"variables": variables, "proxy": shown}
    problem = proxy_problem(proxy) if proxy else None
    if problem is not None:
        detail = f"{listed}: the proxy for this URL {problem}"
        return Check(CONFIGURATION, "proxy", Verdict.FAIL, detail, ENCODE_PASSWORD, data=data)
    effect = f"requests go through {shown}" if shown else "not used for this URL"
    return Check(CONFIGURATION, "proxy", Verdict.INFO, f"{listed}: {effect}", data=data)


def _certificates() -> Check:
    variables = {n: os.environ[n] for n in CERTIFICATE_VARIABLES if os.environ.get(n)}
    if not variables:
        detail = "certifi's bundle (set SSL_CERT_FILE to trust another CA)"
    else:
        listed = ", ".join(f"{name}={value}" for name, value in variables.items())
        detail = f"{listed} (httpx uses it instead of certifi's bundle)"
    return Check(CONFIGURATION, "certificates", Verdict.INFO, detail, data=variables)
