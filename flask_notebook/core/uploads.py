"""Chunked uploads: a PUT whose model has a ``chunk`` number, 1 first, then 2, 3, ... and -1
for the last (contract section 3), as JupyterLab sends a file over 1 MB.

The chunks collect in a hidden partial file beside the target, ``.~upload-<name>``, which
replaces the target (atomically) when the last chunk is written: until then readers see
the old file, or none. The protocol names no upload, only its target, so:

- One upload per target at a time. A chunk 1 while another upload of the same name is
  under way is refused (409): two uploads never interleave into one file. Chunks must come
  in order, one at a time (409 otherwise).
- An upload that sends no chunk for ``IDLE_TIMEOUT`` seconds is abandoned: its partial is
  removed (checked on every chunk and delete this server receives), and its next chunk is
  a 400 (start again with chunk 1). So is every chunk after the server restarted.
- A chunk that fails to be written (a full disk, a file size limit) removes the partial:
  the upload is over; the target is untouched.
- A DELETE of the target cancels an upload to it (and removes a partial that a crashed
  server left behind); ``cancel`` alone is what ``DELETE ...?upload=1`` asks for: the upload
  goes, the target stays.
- A partial that no upload of this process knows and that has not changed for
  ``IDLE_TIMEOUT`` (a server killed mid-upload) is removed the first time this process
  lists its folder (`sweep_left_over`), so hidden partials never pile up.

Chunk writes run in worker threads: the registry is guarded by a real thread lock, held
only to read and change it, never while writing.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import time
from dataclasses import dataclass

from gevent import monkey

from . import errors, fileio
from .paths import Root, join_api_path, split_api_path

log = logging.getLogger(__name__)

_allocate_lock = monkey.get_original("_thread", "allocate_lock")

#: Seconds without a chunk after which an upload counts as abandoned. A chunk is 1 MB in
#: JupyterLab: this leaves a live upload on a link of 10 KB/s time to send the next one.
IDLE_TIMEOUT = 120.0

_PREFIX = ".~upload-"


@dataclass
class _Upload:
    api_path: str
    next_chunk: int
    last_write: float
    busy: bool = True


class Uploads:
    """The chunked uploads under way in this process, keyed by their partial file."""

    def __init__(self, root: Root, *, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.root = root
        self.idle_timeout = idle_timeout
        self._active: dict[str, _Upload] = {}
        self._lock = _allocate_lock()
        #: Folders `sweep_left_over` has looked in (bounded: cleared when it grows past this).
        self._swept: set[str] = set()
        self.max_swept = 10_000

    def partial_os_path(self, api_path: str) -> str:
        """``.~upload-<name>`` beside the target; for a name too long to take the prefix,
        its start and a digest of it (one partial per name, whatever its length)."""
        parent, name = split_api_path(api_path)
        partial = _PREFIX + name
        if len(os.fsencode(partial)) > self.root.name_max:
            digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
            partial = f"{_PREFIX}{fileio.temp_stem(name)}-{digest}"
        return self.root.os_path(join_api_path(parent, partial))

    def write(self, api_path: str, os_path: str, chunk: int, data: bytes) -> os.stat_result:
        """Write one chunk; the last one (-1) puts the file in place. Returns the status of the
        partial file, or of the finished file after the last chunk.

        :raises errors.Conflict: another upload of this name is under way (chunk 1), or this
            chunk comes out of order, or while the previous one is still being written.
        :raises errors.Invalid: no upload of this name is under way (a chunk other than 1),
            or the partial file's name is taken by a link or a folder.
        :raises errors.SaveFailed: the write failed (the upload is over: its partial is gone).
        """
        partial = self.partial_os_path(api_path)
        self.sweep()
        self.sweep_left_over(os.path.dirname(partial))
        with self._lock:
            upload = self._claim(partial, api_path, chunk)
        try:
            st = self._write(partial, os_path, chunk, data)
        except BaseException as exc:  # the upload is over, whatever stopped it
            link = isinstance(exc, OSError) and exc.errno == errno.ELOOP
            with self._lock:
                cancelled = self._active.get(partial) is not upload
                if not cancelled:
                    del self._active[partial]
                    if not link:  # a link's name is not ours to remove
                        _remove(partial)
            if not isinstance(exc, OSError):
                raise
            log.warning("upload of %s failed at chunk %s: %s", api_path, chunk, exc.strerror)
            if cancelled:
                raise errors.Conflict(f"The upload of {api_path} was cancelled") from exc
            if link:
                raise errors.Invalid(f"Upload of {api_path} refused: its partial file is a symlink") from exc
            raise fileio.save_error(exc, api_path) from exc
        with self._lock:
            current = self._active.get(partial)
            if chunk == -1:
                if current is upload:
                    del self._active[partial]
            elif current is upload:
                upload.busy, upload.next_chunk, upload.last_write = False, chunk + 1, time.monotonic()
            else:  # cancelled while this chunk was written: what it wrote is no one's
                if current is None:
                    _remove(partial)
                raise errors.Conflict(f"The upload of {api_path} was cancelled")
        return st

    def _claim(self, partial: str, api_path: str, chunk: int) -> _Upload:
        """Register this chunk's write (the lock is held)."""
        upload = self._active.get(partial)
        if chunk == 1:
            if upload is not None:
                raise errors.Conflict(
                    f"An upload of {api_path} is under way (its last chunk came "
                    f"{time.monotonic() - upload.last_write:.0f} s ago): wait for it to end, or cancel it "
                    f"with DELETE; an upload without a chunk for {self.idle_timeout:.0f} s is dropped",
                    reason="upload in progress")
            upload = self._active[partial] = _Upload(api_path, 2, time.monotonic())
            return upload
        if upload is None:
            raise errors.Invalid(f"Upload of {api_path} has no first chunk; send chunk 1 first "
                                 f"(an upload without a chunk for {self.idle_timeout:.0f} s is dropped)")
        if upload.busy:
            raise errors.Conflict(f"A chunk of the upload of {api_path} is still being written; "
                                  "send chunks one at a time", reason="upload in progress")
        if chunk not in (-1, upload.next_chunk):
            raise errors.Conflict(f"Chunk {chunk} of {api_path} is out of order: the upload expects "
                                  f"chunk {upload.next_chunk}, or -1 for the last")
        upload.busy = True
        return upload

    def _write(self, partial: str, os_path: str, chunk: int, data: bytes) -> os.stat_result:
        flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        flags |= os.O_CREAT | os.O_TRUNC if chunk == 1 else os.O_APPEND
        with open(os.open(partial, flags, 0o666), "wb") as f:
            f.write(data)
            f.flush()
            if chunk == -1:
                os.fsync(f.fileno())
            st = os.fstat(f.fileno())
        if chunk == -1:
            try:
                shutil.copymode(os_path, partial)  # a file replaced keeps its mode
                st = os.stat(partial)
            except (FileNotFoundError, NotADirectoryError):
                pass  # a new file (or one deleted meanwhile)
            os.replace(partial, os.path.realpath(os_path))
            fileio.fsync_dir(os.path.dirname(partial))
        return st

    def cancel(self, api_path: str) -> bool:
        """Stop the upload to `api_path`, if any, and remove its partial file, even one no
        upload of this process knows (a crashed server's). Whether there was one."""
        self.sweep()
        try:
            partial = self.partial_os_path(api_path)
        except (errors.NotFound, errors.NameTooLong):
            return False
        with self._lock:
            self._active.pop(partial, None)
            return _remove(partial)

    def sweep(self) -> None:
        """Remove the partial files of uploads abandoned for ``idle_timeout`` seconds.
        Under the lock: a new upload of the same name must not claim it half-removed."""
        deadline = time.monotonic() - self.idle_timeout
        with self._lock:
            for partial, upload in list(self._active.items()):
                if not upload.busy and upload.last_write < deadline:
                    del self._active[partial]
                    _remove(partial)
                    log.info("upload of %s abandoned (no chunk for %.0f s): partial file removed",
                             upload.api_path, self.idle_timeout)


    def sweep_left_over(self, os_dir: str) -> None:
        """Remove the partial files in `os_dir` that a previous server left (killed or
        restarted mid-upload): those no upload of this process knows, unchanged for
        ``idle_timeout`` seconds (a live upload of another process sharing the folder keeps
        changing its partial). Once per folder per process: after that, every partial there
        is one of ours, and `sweep` sees to it."""
        if os_dir in self._swept:
            return
        if len(self._swept) >= self.max_swept:
            self._swept.clear()
        self._swept.add(os_dir)
        cutoff = time.time() - self.idle_timeout
        try:
            with os.scandir(os_dir) as scan:
                left = [entry.path for entry in scan if entry.name.startswith(_PREFIX)
                        and entry.is_file(follow_symlinks=False)
                        and entry.stat(follow_symlinks=False).st_mtime < cutoff]
        except OSError:  # gone, unreadable: nothing of ours to remove there
            return
        for partial in left:
            with self._lock:
                if partial not in self._active and _remove(partial):
                    log.info("removed a partial upload left by an earlier server: %s", partial)


def _remove(os_path: str) -> bool:
    """Unlink a partial file (a link itself, never its target); whether there was one."""
    try:
        os.unlink(os_path)
    except FileNotFoundError:
        return False
    except OSError as exc:  # e.g. a folder of that name: not ours to remove
        log.warning("could not remove the partial upload %s: %s", os_path, exc.strerror)
        return False
    return True
