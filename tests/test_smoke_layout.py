"""The layout rules that keep the core reusable."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).parent.parent / "flask_notebook" / "core"
#: What core/ may not import: web frameworks, and the WebSocket libraries (``transport`` owns those).
WEB_LIBRARIES = ("flask", "werkzeug", "flask_sock", "simple_websocket", "wsproto")
#: RFC 6455's opcode names, as a module that frames WebSocket messages defines them.
WEBSOCKET_OPCODES = {"CONTINUATION", "TEXT", "BINARY", "CLOSE", "PING", "PONG"}


def test_core_imports_neither_flask_nor_werkzeug() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in WEB_LIBRARIES]
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
