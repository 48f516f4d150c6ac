"""flask-notebook: a Jupyter-compatible notebook server on Flask.

Importing the package starts nothing and imports nothing heavy: ``Notebook`` and
``create_app`` load on first use, so an entry point can patch gevent before Flask loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Notebook", "create_app", "hash_password", "__version__"]

if TYPE_CHECKING:
    from .core.auth import hash_password
    from .extension import Notebook
    from .factory import create_app


def __getattr__(name: str) -> Any:
    if name == "Notebook":
        from .extension import Notebook

        return Notebook
    if name == "create_app":
        from .factory import create_app

        return create_app
    if name == "hash_password":
        from .core.auth import hash_password

        return hash_password
    raise AttributeError(f"module 'flask_notebook' has no attribute {name!r}")
