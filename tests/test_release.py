"""The release: one version, clear errors without an extra, a wheel that works, the workflow.

The build runs from a copy of this tree (so concurrent runs and the checkout never mix), with
``--no-isolation`` (offline: the dev extra holds the build backend). The wheel is installed, not
editable, into a fresh venv whose only other content is a ``.pth`` line making this venv's
third-party packages importable; that venv's editable hooks are not processed, so our three
packages can only come from the wheel, and the smoke test asserts that they do.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import langchain_stepfun
import llama_index_stepfun
import stepfun_core

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DISTRIBUTION = "stepfun-integrations"
PACKAGES = ("stepfun_core", "stepfun_probes", "langchain_stepfun", "llama_index_stepfun")
SCRUBBED = ("STEP_API_KEY", "STEPFUN_API_KEY", "STEP_BASE_URL", "STEPFUN_BASE_URL", "PYTHONPATH")
COPY_IGNORES = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".nox",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    ".benchmarks",
)


def run(
    *args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command; fail the test with its output if it fails."""
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def tool(name: str) -> str:
    """A console script of this venv (or PATH)."""
    exe = BIN / name
    if exe.exists():
        return str(exe)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: install the dev extra")
    return found


def project_version() -> str:
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    project = text.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    match = re.search(r'^version = "([^"]+)"$', project, re.M)
    assert match, "no version in [project]"
    return match[1]


# --- one version -------------------------------------------------------------------------------
def test_one_version_for_all_three_packages_from_the_distribution_metadata() -> None:
    version = project_version()
    assert importlib.metadata.version(DISTRIBUTION) == version
    assert stepfun_core.__version__ == version
    assert langchain_stepfun.__version__ == version
    assert llama_index_stepfun.__version__ == version


def test_the_changelog_has_an_entry_for_the_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text("utf-8")
    assert "Keep a Changelog" in changelog and "Semantic Versioning" in changelog
    entry = rf"^## \[{re.escape(project_version())}\] - \d{{4}}-\d{{2}}-\d{{2}}$"
    assert re.search(entry, changelog, re.M), f"CHANGELOG.md has no entry matching {entry}"


@pytest.mark.parametrize("package", PACKAGES)
def test_a_warning_from_our_packages_fails_the_suite(package: str) -> None:
    with pytest.raises(UserWarning, match="probe"):
        warnings.warn_explicit("probe", UserWarning, "probe.py", 1, module=f"{package}.probe")


# --- declared dependencies ---------------------------------------------------------------------
EXTRAS_OF = {"stepfun_core": (), "stepfun_probes": ("doctor",), "langchain_stepfun": ("langchain",)}
EXTRAS_OF["llama_index_stepfun"] = ("llama-index",)
# Ours (stepfun_probes is the doctor extra's, imported only for --probe), and httpx2, which is
# never imported by us: only named for type checking and looked up once a caller imported it.
NOT_REQUIRED = {*PACKAGES, "stepfun_probes", "httpx2"}


def imported_modules(package: str) -> set[str]:
    """The third-party modules a package's modules import (absolute imports only)."""
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    ignored = {*sys.stdlib_module_names, *NOT_REQUIRED, "__future__"}
    return {name for name in names if name.split(".")[0] not in ignored}


@functools.cache
def distribution_of(module: str) -> str:
    """The distribution that installs a module (namespace packages: by their second part)."""
    top, *rest = module.split(".")
    candidates = importlib.metadata.packages_distributions()[top]
    if len(candidates) > 1:  # llama_index is a namespace shared by many distributions
        folder = "/".join([top, *rest[:1]]) + "/"
        candidates = [
            name
            for name in candidates
            if any(str(file).startswith(folder) for file in importlib.metadata.files(name) or [])
        ]
    (name,) = set(candidates)
    return canonicalize_name(name)


def declared(extras: tuple[str, ...]) -> set[str]:
    """The distributions the metadata requires for the core and those extras."""
    names = set()
    for spec in importlib.metadata.requires(DISTRIBUTION) or []:
        requirement = Requirement(spec)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras):
            names.add(canonicalize_name(requirement.name))
    return names - {canonicalize_name(DISTRIBUTION)}


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_declares_exactly_the_distributions_it_imports(package: str) -> None:
    imported = {distribution_of(module) for module in imported_modules(package)}
    # Every package may use the core's requirements (through stepfun_core); its extra adds exactly
    # what it imports itself.
    assert imported <= declared(EXTRAS_OF[package])
    assert declared(EXTRAS_OF[package]) - declared(()) == imported - declared(())


# --- an adapter without its extra --------------------------------------------------------------
LANGCHAIN_EXTRA = 'pip install "stepfun-integrations[langchain]"'
LLAMA_INDEX_EXTRA = 'pip install "stepfun-integrations[llama-index]"'
BLOCKER = """
import sys

blocked = sys.argv[1].split(",")


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, Blocker())
import stepfun_core  # the core needs neither framework

try:
    __import__(sys.argv[2])
except ImportError as error:
    print(f"{type(error).__name__}: {error}")
else:
    raise SystemExit(sys.argv[2] + " imported without its framework")
"""


@pytest.mark.parametrize(
    ("blocked", "package", "command"),
    [
        ("langchain_core", "langchain_stepfun", LANGCHAIN_EXTRA),
        ("llama_index.core", "llama_index_stepfun", LLAMA_INDEX_EXTRA),
        ("llama_index", "llama_index_stepfun", LLAMA_INDEX_EXTRA),
    ],
)
def test_an_adapter_without_its_framework_names_the_install_command(
    blocked: str, package: str, command: str
) -> None:
    result = run(sys.executable, "-c", BLOCKER, blocked, package)
    assert result.stdout.startswith("ImportError: "), result.stdout
    assert command in result.stdout


# --- the distributions -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this tree, as a fresh clone (plus uncommitted files) would have it."""
    copy = tmp_path_factory.mktemp("source")
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORES, dirs_exist_ok=True)
    return copy


@pytest.fixture(scope="module")
def dist(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build``: the sdist, then the wheel built from the sdist."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, source)
    return out


def artefact(dist: Path, pattern: str) -> Path:
    (found,) = dist.glob(pattern)
    return found


def test_build_makes_an_sdist_and_a_wheel(dist: Path) -> None:
    version = project_version()
    assert sorted(path.name for path in dist.iterdir()) == [
        f"stepfun_integrations-{version}-py3-none-any.whl",
        f"stepfun_integrations-{version}.tar.gz",
    ]


def test_twine_check_strict_passes(dist: Path) -> None:
    result = run(tool("twine"), "check", "--strict", *sorted(dist.iterdir()))
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_wheel_holds_every_module_the_license_and_the_metadata(
    dist: Path, source: Path
) -> None:
    version = project_version()
    info = f"stepfun_integrations-{version}.dist-info"
    with zipfile.ZipFile(artefact(dist, "*.whl")) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert {name.split("/")[0] for name in names} == {*PACKAGES, info}
    expected = {
        path.relative_to(source).as_posix()
        for package in PACKAGES
        for path in (source / package).rglob("*")
        if path.is_file() and (path.suffix == ".py" or path.name == "py.typed")
        if "__pycache__" not in path.parts
    }
    assert expected - names == set(), "missing from the wheel"
    assert all(f"{package}/py.typed" in names for package in PACKAGES)
    assert f"{info}/licenses/LICENSE" in names
    assert "License-Expression: MIT" in metadata
    assert "Requires-Python: >=3.10" in metadata
    assert "Provides-Extra: langchain" in metadata and "Provides-Extra: llama-index" in metadata
    assert "Provides-Extra: doctor" in metadata
    assert "stepfun = stepfun_core.doctor.cli:main" in entry_points
    assert "Description-Content-Type: text/markdown" in metadata


def test_the_sdist_holds_the_sources_the_readme_and_the_license(dist: Path) -> None:
    version = project_version()
    top = f"stepfun_integrations-{version}"
    with tarfile.open(artefact(dist, "*.tar.gz")) as sdist:
        names = set(sdist.getnames())
    for name in ("LICENSE", "README.md", "pyproject.toml", "PKG-INFO", "stepfun_core/__init__.py"):
        assert f"{top}/{name}" in names


# --- the wheel, installed in a fresh venv -------------------------------------------------------
@pytest.fixture(scope="module")
def wheel_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed (no deps) and this venv's third-party packages."""
    venv = tmp_path_factory.mktemp("wheel-venv")
    run(sys.executable, "-m", "venv", "--without-pip", "--clear", venv)
    python = venv / "bin" / "python"
    wheel = artefact(dist, "*.whl")
    pip = (sys.executable, "-m", "pip", "--python", python, "install", "-q")
    run(*pip, "--no-deps", "--no-index", "--no-compile", wheel)
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    ours = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    pth = Path(purelib.stdout.strip()) / "_stepfun_release_test_dependencies.pth"
    pth.write_text("".join(f"{path}\n" for path in sorted(ours)), encoding="utf-8")
    return venv


def clean_env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    environ.update(NO_COLOR="1", **extra)
    return environ


def test_the_installed_wheel_passes_its_smoke_test(wheel_venv: Path, tmp_path: Path) -> None:
    smoke = ROOT / "tests" / "release" / "wheel_smoke.py"
    python = wheel_venv / "bin" / "python"
    result = run(python, "-I", smoke, wheel_venv, project_version(), cwd=tmp_path, env=clean_env())
    assert "wheel smoke test passed" in result.stdout
    help_text = run(wheel_venv / "bin" / "stepfun", "--help", cwd=tmp_path, env=clean_env())
    assert "doctor" in help_text.stdout


TOUR = """
import runpy, sys
from pathlib import Path

import stepfun_core

where = Path(stepfun_core.__file__).resolve()
assert where.is_relative_to(Path(sys.prefix).resolve()), f"stepfun_core from {where}"
runpy.run_module("examples", run_name="__main__", alter_sys=True)
"""


def test_the_installed_wheel_replays_the_tour(wheel_venv: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=COPY_IGNORES)
    cassettes = str(ROOT / "cassettes" / "examples")
    result = subprocess.run(
        [str(wheel_venv / "bin" / "python"), "-c", TOUR],
        cwd=tmp_path,
        env=clean_env(STEPFUN_EXAMPLES_CASSETTES=cassettes),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Replaying recorded responses" in result.stdout
    assert re.search(r"Done: \d+ examples in", result.stdout), result.stdout


# --- the release workflow ----------------------------------------------------------------------
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))


def test_the_workflows_pass_actionlint() -> None:
    assert WORKFLOWS, "no workflow in .github/workflows"
    result = subprocess.run(
        [tool("actionlint"), "-no-color", *(str(path) for path in WORKFLOWS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_release_workflow_publishes_with_trusted_publishing_only_on_a_tag() -> None:
    text = (ROOT / ".github" / "workflows" / "release.yml").read_text("utf-8")
    assert "pypa/gh-action-pypi-publish@" in text
    assert "id-token: write" in text
    assert "name: pypi" in text  # the deployment environment PyPI trusts
    assert "startsWith(github.ref, 'refs/tags/v')" in text
    assert "password:" not in text and "PYPI_API_TOKEN" not in text  # no long-lived token
    assert "nox" in text  # the version matrix


def test_ci_and_the_workflow_run_the_readmes_test_command_and_the_matrix() -> None:
    command = 'python3 -m venv .venv && .venv/bin/pip install -q -e ".[dev]" && .venv/bin/pytest'
    assert f"```bash\n{command}\n```" in (ROOT / "README.md").read_text("utf-8")
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert f"\n{command}\n" in ci
    assert ".venv/bin/nox" in ci
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text("utf-8")
    assert f"run: {command}\n" in workflow
