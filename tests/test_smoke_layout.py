"""The layout rules that keep the core reusable."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).parent.parent / "flask_notebook" / "core"


def test_core_imports_neither_flask_nor_werkzeug() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("flask", "werkzeug", "flask_sock")]
    assert CORE.exists() and list(CORE.rglob("*.py"))
    assert offenders == []


def test_importing_the_package_loads_no_flask() -> None:
    import subprocess
    import sys

    code = "import sys, flask_notebook; print('flask' in sys.modules, 'gevent' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
