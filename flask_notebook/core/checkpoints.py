"""One checkpoint per file, as jupyter_server keeps them: `.ipynb_checkpoints/<stem>-checkpoint<ext>`."""

from __future__ import annotations

import logging
import os
import shutil
import stat

from . import errors, fileio
from .models import CheckpointModel
from .paths import Root, iso_utc_ns, join_api_path, split_api_path

log = logging.getLogger(__name__)

CHECKPOINT_ID = "checkpoint"
CHECKPOINT_DIR = ".ipynb_checkpoints"


class Checkpoints:
    """Checkpoint copies beside the files they belong to. Copies are written atomically.

    Another request may delete, rename or replace the file or its checkpoint at any moment:
    what vanishes between a check and its use is a 404 (``fileio.read_error``), never a 500.
    """

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

    def create(self, api_path: str) -> CheckpointModel:
        """:raises errors.NameTooLong: the checkpoint's name (the file's, plus "-checkpoint")
        would be too long."""
        src = self.root.os_path(api_path)
        if not os.path.isfile(src):
            raise errors.NotFound(f"Cannot checkpoint {api_path}: not a file")
        dst = self._checkpoint_os_path(api_path)
        try:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
        except OSError as exc:
            raise fileio.save_error(exc, api_path) from exc
        try:
            fileio.atomic_copy(src, dst, api_path=api_path)
            return {"id": CHECKPOINT_ID, "last_modified": iso_utc_ns(os.stat(dst).st_mtime_ns)}
        except OSError as exc:  # the file (or the copy) went away meanwhile
            raise fileio.read_error(exc, api_path) from exc

    def list(self, api_path: str) -> list[CheckpointModel]:
        try:
            st = os.stat(self._checkpoint_os_path(api_path))
        except (errors.NotFound, errors.NameTooLong, OSError):
            return []
        return [{"id": CHECKPOINT_ID, "last_modified": iso_utc_ns(st.st_mtime_ns)}] if stat.S_ISREG(st.st_mode) else []

    def restore(self, checkpoint_id: str, api_path: str) -> None:
        src = self._existing(checkpoint_id, api_path)
        try:
            fileio.atomic_copy(src, self.root.os_path(api_path), api_path=api_path)
        except OSError as exc:  # the checkpoint was deleted meanwhile
            raise errors.NotFound(f"Checkpoint does not exist: {api_path}@{checkpoint_id}") from exc

    def delete(self, checkpoint_id: str, api_path: str) -> None:
        try:
            os.unlink(self._existing(checkpoint_id, api_path))
        except FileNotFoundError as exc:  # deleted meanwhile
            raise errors.NotFound(f"Checkpoint does not exist: {api_path}@{checkpoint_id}") from exc

    def delete_all(self, api_path: str) -> None:
        try:
            os.unlink(self._checkpoint_os_path(api_path))
        except (FileNotFoundError, NotADirectoryError, errors.NotFound, errors.NameTooLong):
            pass

    def rename(self, old_path: str, new_path: str) -> None:
        """Move the checkpoint along with its file. The file is moved already: a checkpoint
        that cannot follow (gone meanwhile, a name too long) is logged and left behind."""
        try:
            old = self._checkpoint_os_path(old_path)
            new = self._checkpoint_os_path(new_path)
        except (errors.NotFound, errors.NameTooLong):
            return
        if not os.path.isfile(old):
            return
        try:
            os.makedirs(os.path.dirname(new), exist_ok=True)
            shutil.move(old, new)
        except OSError as exc:
            log.warning("the checkpoint of %s did not follow it to %s: %s", old_path, new_path, exc.strerror)

    def _existing(self, checkpoint_id: str, api_path: str) -> str:
        missing = errors.NotFound(f"Checkpoint does not exist: {api_path}@{checkpoint_id}")
        if checkpoint_id != CHECKPOINT_ID:
            raise missing
        os_path = self._checkpoint_os_path(api_path, checkpoint_id)
        if not os.path.isfile(os_path):
            raise missing
        return os_path
