"""The layout rules that keep the core reusable."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).parent.parent / "flask_notebook" / "core"
#: RFC 6455's opcode names, as a module that frames WebSocket messages defines them.
WEBSOCKET_OPCODES = {"CONTINUATION", "TEXT", "BINARY", "CLOSE", "PING", "PONG"}


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


def test_core_holds_no_websocket_framing() -> None:
    """RFC 6455 belongs to ``flask_notebook/transport/``: no module in core/ names an opcode,
    defines a function or class about frames (building, parsing, unmasking), or imports the
    transport, which sits above core."""
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if "frame" in node.name.lower() or "unmask" in node.name.lower():
                    offenders.append(f"{path.name}: defines {node.name}")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names = target.elts if isinstance(target, ast.Tuple) else [target]
                    offenders += [f"{path.name}: assigns {n.id}" for n in names
                                  if isinstance(n, ast.Name) and n.id in WEBSOCKET_OPCODES]
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if module.startswith("flask_notebook.transport") or (node.level >= 2 and module.startswith("transport")):
                    offenders.append(f"{path.name}: imports {module}")
    assert offenders == []


def test_importing_the_package_loads_no_flask() -> None:
    import subprocess
    import sys

    code = "import sys, flask_notebook; print('flask' in sys.modules, 'gevent' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
