"""The layout rules that keep the core reusable."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).parent.parent / "flask_notebook" / "core"


#: What `core/` must not import: web frameworks, WebSocket libraries and web servers (a module
#: or any of its submodules). The web layer and the transport wrap the core, not the reverse.
WEB_LIBRARIES = ("flask", "werkzeug", "jinja2", "flask_sock", "simple_websocket", "wsproto", "gevent.pywsgi",
                 "gunicorn", "tornado")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            # ``from gevent import pywsgi`` imports gevent.pywsgi
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_core_imports_no_web_library() -> None:
    offenders = [f"{path.name}: {name}" for path in sorted(CORE.rglob("*.py")) for name in _imports(path)
                 if any(name == lib or name.startswith(lib + ".") for lib in WEB_LIBRARIES)]
    assert CORE.exists() and list(CORE.rglob("*.py"))
    assert offenders == []


def test_importing_the_package_loads_no_flask() -> None:
    import subprocess
    import sys

    code = "import sys, flask_notebook; print('flask' in sys.modules, 'gevent' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
