"""One checkpoint per file, as jupyter_server keeps them: `.ipynb_checkpoints/<stem>-checkpoint<ext>`."""

from __future__ import annotations

import os
import shutil

from . import errors, fileio
from .models import CheckpointModel
from .paths import Root, iso_utc_ns, join_api_path, split_api_path

CHECKPOINT_ID = "checkpoint"
CHECKPOINT_DIR = ".ipynb_checkpoints"


class Checkpoints:
    """Checkpoint copies beside the files they belong to. Copies are written atomically."""

    def __init__(self, root: Root) -> None:
        self.root = root

    def _checkpoint_os_path(self, api_path: str, checkpoint_id: str = CHECKPOINT_ID) -> str:
        parent, name = split_api_path(api_path)
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        filename = f"{stem}-{checkpoint_id}{dot}{ext}"
        # Through the root's check: a `.ipynb_checkpoints` symlink leading out is refused.
        return self.root.os_path(join_api_path(parent, CHECKPOINT_DIR, filename))

    def _model(self, os_path: str) -> CheckpointModel:
        return {"id": CHECKPOINT_ID, "last_modified": iso_utc_ns(os.stat(os_path).st_mtime_ns)}

    def create(self, api_path: str) -> CheckpointModel:
        src = self.root.os_path(api_path)
        if not os.path.isfile(src):
            raise errors.NotFound(f"Cannot checkpoint {api_path}: not a file")
        dst = self._checkpoint_os_path(api_path)
        try:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
        except OSError as exc:
            raise fileio.save_error(exc, api_path) from exc
        fileio.atomic_copy(src, dst, api_path=api_path)
        return self._model(dst)

    def list(self, api_path: str) -> list[CheckpointModel]:
        try:
            os_path = self._checkpoint_os_path(api_path)
        except errors.NotFound:
            return []
        return [self._model(os_path)] if os.path.isfile(os_path) else []

    def restore(self, checkpoint_id: str, api_path: str) -> None:
        src = self._existing(checkpoint_id, api_path)
        fileio.atomic_copy(src, self.root.os_path(api_path), api_path=api_path)

    def delete(self, checkpoint_id: str, api_path: str) -> None:
        os.unlink(self._existing(checkpoint_id, api_path))

    def delete_all(self, api_path: str) -> None:
        try:
            os.unlink(self._checkpoint_os_path(api_path))
        except (FileNotFoundError, NotADirectoryError, errors.NotFound):
            pass

    def rename(self, old_path: str, new_path: str) -> None:
        try:
            old = self._checkpoint_os_path(old_path)
            new = self._checkpoint_os_path(new_path)
        except errors.NotFound:
            return
        if not os.path.isfile(old):
            return
        os.makedirs(os.path.dirname(new), exist_ok=True)
        shutil.move(old, new)

    def _existing(self, checkpoint_id: str, api_path: str) -> str:
        os_path = self._checkpoint_os_path(api_path, checkpoint_id)
        if checkpoint_id != CHECKPOINT_ID or not os.path.isfile(os_path):
            raise errors.NotFound(f"Checkpoint does not exist: {api_path}@{checkpoint_id}")
        return os_path
