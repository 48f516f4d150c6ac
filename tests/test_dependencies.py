"""pyproject.toml declares what the package imports, each with the range that is tested.

- Every third-party module that ``flask_notebook/`` imports (found with ``ast``, imports inside
  functions included) belongs to a distribution in ``[project] dependencies``, as
  ``importlib.metadata.packages_distributions()`` maps it.
- Every declared dependency is imported, or has a reason here not to be (`NOT_IMPORTED`).
- Every declared dependency has a lower and an upper bound. The lower bound is within the
  minor series that the tests run (requirements.txt pins it, and it is what is installed):
  older releases are not tested, so not claimed. The upper bound is the next major release
  (0.x: the next minor; gevent's calendar versions: the next year's).
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .support.env import PROJECT

PACKAGE = PROJECT / "flask_notebook"
#: Declared but not imported by the package, and why.
NOT_IMPORTED = {
    "ipykernel": "the default kernel: started as a process (python -m ipykernel_launcher)",
    "nbconvert": "imported by a child Python that core/exporters.py runs",
    "gunicorn": "the production server: gunicorn.conf.py and app.py, beside the package",
}


def declared() -> dict[str, Requirement]:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    return {canonicalize_name(req.name): req for req in requirements}


def optional() -> dict[str, Requirement]:
    """The extras for optional features (``test`` aside): imported only where they are used."""
    extras = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    requirements = [Requirement(line) for name, lines in extras.items() if name != "test" for line in lines]
    return {canonicalize_name(req.name): req for req in requirements}


def pinned() -> dict[str, Version]:
    """requirements.txt: the exact versions the tests run with."""
    pins = {}
    for line in (PROJECT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt pins every runtime dependency exactly: {line!r}"
            pins[canonicalize_name(name)] = Version(version)
    return pins


@functools.cache
def distributions() -> dict[str, list[str]]:
    """{top-level module: [distributions providing it]} of the installed distributions."""
    return importlib.metadata.packages_distributions()


def imported_modules() -> dict[str, set[str]]:
    """Top-level third-party modules the package imports: {module: {files}}."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top != "flask_notebook":
                    found.setdefault(top, set()).add(str(path.relative_to(PROJECT)))
    return found


def test_every_imported_module_is_declared() -> None:
    deps = {**declared(), **optional()}
    modules = imported_modules()
    assert {"flask", "zmq", "jupyter_client"} <= set(modules)  # the walk sees the imports
    undeclared = {module: (distributions().get(module), sorted(files)) for module, files in modules.items()
                  if not {canonicalize_name(d) for d in distributions().get(module, [])} & set(deps)}
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {undeclared}"


def test_every_declared_dependency_is_imported_or_explained() -> None:
    imported = {canonicalize_name(dist) for module in imported_modules() for dist in distributions().get(module, [])}
    unused = set(declared()) - imported - set(NOT_IMPORTED)
    assert not unused, f"declared but never imported (remove, or say why in NOT_IMPORTED): {sorted(unused)}"


def test_every_dependency_is_bounded_around_the_tested_version() -> None:
    pins = pinned()
    problems = []
    for name, req in declared().items():
        lower = [Version(s.version) for s in req.specifier if s.operator == ">="]
        upper = [Version(s.version) for s in req.specifier if s.operator == "<"]
        tested = pins.get(name)
        if len(lower) != 1 or len(upper) != 1:
            problems.append(f"{req}: wants one lower (>=) and one upper (<) bound")
        elif tested is None:
            problems.append(f"{req}: not pinned in requirements.txt, so not tested")
        elif tested not in req.specifier:
            problems.append(f"{req}: excludes {tested}, the version tested")
        elif lower[0] < Version(f"{tested.major}.{tested.minor}"):
            problems.append(f"{req}: claims releases older than {tested.major}.{tested.minor}, which are not tested")
        elif upper[0] != Version(f"{tested.major + 1}" if tested.major else f"0.{tested.minor + 1}"):
            problems.append(f"{req}: the upper bound is not the release after {tested}'s major (0.x: minor) series")
    assert not problems, "\n".join(problems)


def test_the_installed_versions_are_the_pinned_ones() -> None:
    """The tests run what requirements.txt pins (``make`` installs it), so the bounds above
    describe what was tested."""
    pins = pinned()
    installed = {name: Version(importlib.metadata.version(name)) for name in declared()}
    assert {name: pins.get(name) for name in installed} == installed


def test_optional_extras_are_bounded_around_the_tested_version() -> None:
    """An optional feature's package (``webpdf``: playwright) is pinned for the tests in
    requirements-test.txt, and bounded like the others."""
    pins = {canonicalize_name(line.partition("==")[0]): Version(line.partition("==")[2])
            for line in (PROJECT / "requirements-test.txt").read_text().splitlines() if "==" in line}
    for name, req in optional().items():
        tested = pins[name]
        assert tested in req.specifier, req
        assert str(req.specifier) == f"<{tested.major + 1},>={tested.major}.{tested.minor}", req


def test_no_requirement_marker_or_extra_hides_a_dependency() -> None:
    for req in declared().values():
        assert req.marker is None and not req.extras and not req.url, req
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", req.name) for req in declared().values())
