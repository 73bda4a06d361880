"""The version matrix: the suite on every supported Python, at both ends of the dependency ranges.

Run it with ``.venv/bin/nox`` (after ``pip install -e ".[dev]"``); one cell with
``.venv/bin/nox -s "tests-3.12(lowest)"``, one end with ``-k newest``, a list with ``-l``.
Extra arguments after ``--`` go to pytest.

The Pythons are the classifiers of pyproject.toml. Each cell is a Python and one end of the ranges:

- ``newest``: the newest versions every range of pyproject.toml allows.
- ``lowest``: first the core's tests with the test harness alone and httpx at its floor; then
  both framework extras, with every direct dependency (httpx, langchain-core, pydantic,
  typing-extensions, llama-index-core) at the lowest version the ranges allow together (uv's
  ``--resolution lowest-direct``) and the test tooling the newest that fits them.

Each cell runs the unit tests: the whole suite but its slow end-to-end parts (the reliability
suite, the tour, lint and types, the release build), which the README's test command runs in full,
and the property tests on Hypothesis's ``quick`` profile (``HYPOTHESIS_PROFILE`` overrides it).
Environments are made with uv (fast, and it picks the lowest versions) in ``.nox/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PYTHONS = nox.project.python_versions(PYPROJECT)
EXTRAS = ("langchain", "llama-index")  # the framework extras, installed together

# The slow end-to-end parts; the README's test command runs them.
NOT_UNIT = (
    "tests/reliability",
    "tests/test_tour.py",
    "tests/test_tooling.py",
    "tests/test_release.py",
    "tests/downstream/test_ray.py",  # Ray's start-up dominates; the full run has it
    "tests/test_scale_benchmark.py",  # a benchmark's smoke run (the peers are the bench extra's)
    "tests/test_docs_site.py",  # the docs toolchain is not a runtime dependency
)
PYTEST = ("pytest", "-q", *(f"--ignore={path}" for path in NOT_UNIT))
CORE_TESTS = "tests/core"  # needs neither framework
# What the test tooling needs of the runtime dependencies, so the lowest framework half is lifted
# to it (the core half still runs the core's tests at the declared floor): langchain-tests (the
# standard suites) needs httpx>=0.28.1.
TOOLING_NEEDS = ("httpx>=0.28.1",)

nox.options.default_venv_backend = "uv"
nox.options.download_python = "never"  # the interpreters installed here (pyenv, setup-python)
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["tests"]
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")


def _pyenv_pythons_first() -> None:
    """Put pyenv's interpreters (if any) ahead of its shims, which find only the selected one."""
    versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = [versions / f"{python}.{patch}" / "bin" for python in PYTHONS for patch in range(99)]
    found = [path for path in found if (path / "python").exists()]
    latest = {path.parent.name.rsplit(".", 1)[0]: str(path) for path in found}  # last patch wins
    os.environ["PATH"] = os.pathsep.join([*latest.values(), os.environ.get("PATH", "")])


_pyenv_pythons_first()


def runtime_names(*extras: str) -> set[str]:
    """The names of the direct runtime dependencies (of the core, and of the given extras)."""
    project = PYPROJECT["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return {Requirement(spec).name for spec in specs}


def lowest_pins(session: nox.Session, *extras: str, needs: tuple[str, ...] = ()) -> Path:
    """A constraints file pinning each direct runtime dependency to its lowest allowed version.

    The lowest versions that install together on this Python (and meet ``needs``): ``uv pip
    compile --resolution lowest-direct`` over pyproject.toml with the extras, kept for the
    direct runtime dependencies only.
    """
    wanted = runtime_names(*extras)
    tmp = Path(session.create_tmp())
    name = "-".join(("core", *extras))
    (tmp / f"needs-{name}.txt").write_text("".join(f"{need}\n" for need in needs), "utf-8")
    extra_args = [arg for extra in extras for arg in ("--extra", extra)]
    python = str(Path(session.bin) / "python")
    resolved = session.run(
        *("uv", "pip", "compile", "pyproject.toml", "--resolution", "lowest-direct"),
        *("-c", str(tmp / f"needs-{name}.txt"), "--python", python, *extra_args),
        *("--no-header", "--no-annotate", "--quiet"),
        silent=True,
        external=True,
    )
    assert isinstance(resolved, str)
    pins = [
        line.strip()
        for line in resolved.splitlines()
        if "==" in line and Requirement(line.strip()).name in wanted
    ]
    if len(pins) != len(wanted):
        session.error(f"lowest versions of {sorted(wanted)} not all resolved: {pins}")
    path = tmp / f"lowest-{name}.txt"
    path.write_text("\n".join(pins) + "\n", encoding="utf-8")
    session.log(f"lowest ({name}): {', '.join(pins)}")
    return path


def show_versions(session: nox.Session, *extras: str) -> None:
    """Print the installed versions of the runtime dependencies (the log tells what was tested)."""
    names = sorted(runtime_names(*extras))
    code = "import importlib.metadata as m, sys; "
    code += "print(*(f'{n}=={m.version(n)}' for n in sys.argv[1:]))"
    session.run("python", "-c", code, *names, silent=False)


@nox.session(python=PYTHONS)
@nox.parametrize("deps", [nox.param("lowest", id="lowest"), nox.param("newest", id="newest")])
def tests(session: nox.Session, deps: str) -> None:
    """The unit tests on one Python, at one end of the dependency ranges."""
    # Every property runs, on fewer examples than the README's full run (which uses "ci").
    session.env["HYPOTHESIS_PROFILE"] = os.environ.get("HYPOTHESIS_PROFILE", "quick")
    if deps == "lowest":
        session.install("-e", ".[test]", "-c", str(lowest_pins(session)))
        show_versions(session)
        session.run(*PYTEST, CORE_TESTS, *session.posargs)
        session.install(
            "-e", ".[dev]", "-c", str(lowest_pins(session, *EXTRAS, needs=TOOLING_NEEDS))
        )
    else:
        session.install("-e", ".[dev]")
    show_versions(session, *EXTRAS)
    session.run(*PYTEST, *session.posargs)
