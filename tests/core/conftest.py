"""Core fixtures: a ContentsManager on the test's root, with no Flask app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_notebook.core import notebooks
from flask_notebook.core.contents import ContentsManager
from flask_notebook.core.paths import Root


@pytest.fixture
def cm(root: Path, tmp_path: Path) -> Iterator[ContentsManager]:
    manager = ContentsManager(Root(str(root)), notebooks.Notary(str(tmp_path / "data")))
    yield manager
    manager.close()
    manager.notary.close()
