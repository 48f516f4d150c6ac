"""ContentsManager: files, notebooks and directories under one root (contract section 3).

Every OS path comes from ``self.root.os_path(api_path)``, which refuses anything outside
the root. Methods that read or write whole files (``get``, ``save``) are plain blocking code
that the web layer runs in a worker thread; the notary's store is touched only through the
``finish_*`` methods, which run on the caller's thread.

Other requests change the same files at the same moment: whatever a check found may be
gone when it is acted on. An OS error from such a race becomes the domain error the check
would have given (``fileio.read_error``, ``fileio.save_error``): a 404 or 409, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import logging
import os
import re
import shutil
import stat
from collections.abc import Callable
from typing import Any

from . import errors, fileio, notebooks
from .checkpoints import Checkpoints
from .dircache import ListingCache
from .listing import DirectoryLister, guess_mimetype
from .models import CheckpointModel, ContentsModel
from .paths import Root, iso_utc_ns, join_api_path, normalize_api_path, split_api_path
from .uploads import Uploads

log = logging.getLogger(__name__)
_COPY_PAT = re.compile(r"\-Copy\d*\.")
_COPY_DIR_LIMIT = 500 * 1024 * 1024
SORT_KEYS: dict[str, Callable[[ContentsModel], Any]] = {
    "name": lambda m: m["name"].lower(),
    "last_modified": lambda m: m["last_modified"],
    "size": lambda m: m["size"] or 0,
    "type": lambda m: (m["type"] != "directory", m["name"].lower()),
}


class ContentsManager:
    """The contents API's operations, named as jupyter_server names them."""

    def __init__(self, root: Root, notary: notebooks.Notary, *, listing_cache: bool | ListingCache = True) -> None:
        self.root = root
        self.lister = DirectoryLister(root, cache=listing_cache)
        self.notary = notary
        self.checkpoints = Checkpoints(root)
        self.uploads = Uploads(root)
        self._checked: dict[str, tuple[str | None, str]] = {}
        self._cell_cache = notebooks.CellCache()

    def close(self) -> None:
        """Release the listing cache's inotify descriptor."""
        self.lister.close()

    # -- reading ---------------------------------------------------------------------

    def get(
        self,
        api_path: str,
        *,
        content: bool = True,
        type: str | None = None,  # noqa: A002 - the wire name
        format: str | None = None,  # noqa: A002
        require_hash: bool = False,
    ) -> ContentsModel:
        """The model of the file, notebook or directory at `api_path`.

        Notebooks come back with ``_signature`` set (an internal key): pass the model to
        ``finish_get`` on the event loop to turn it into ``metadata.trusted`` flags.

        :raises errors.NotFound: missing, hidden, or outside the root.
        :raises errors.Invalid: wrong `type`, or `format` "text" for bytes that are not UTF-8.
        """
        api_path = normalize_api_path(api_path)
        os_path = self._readable_os_path(api_path)
        try:
            return self._get(api_path, os_path, content=content, type=type, format=format, require_hash=require_hash)
        except OSError as exc:  # deleted or replaced since it was looked at
            raise fileio.read_error(exc, api_path) from exc

    def _get(
        self, api_path: str, os_path: str, *, content: bool, type: str | None,  # noqa: A002
        format: str | None, require_hash: bool  # noqa: A002
    ) -> ContentsModel:
        if os.path.isdir(os_path):
            if type not in (None, "directory"):
                raise errors.Invalid(f"{api_path} is a directory, not a {type}", reason="bad type")
            return self._dir_model(api_path, os_path, content=content)
        if type == "directory":
            raise errors.Invalid(f"{api_path} is not a directory", reason="bad type")
        if type == "notebook" or (type is None and api_path.endswith(".ipynb")):
            return self._notebook_model(api_path, os_path, content=content, require_hash=require_hash)
        return self._file_model(api_path, os_path, content=content, format=format, require_hash=require_hash)

    def list_directory(
        self, api_path: str, *, sort: str | None = None, offset: int = 0, limit: int | None = None
    ) -> tuple[ContentsModel, int]:
        """A directory model whose content is one page of entries, and the total entry count.

        `sort` is a key of ``SORT_KEYS``, with a leading "-" for descending order.
        """
        model = self.get(api_path, type="directory")
        entries: list[ContentsModel] = model["content"]
        if sort:
            key = SORT_KEYS.get(sort.lstrip("-"))
            if key is None:
                raise errors.Invalid(f"Sort '{sort}' is invalid; use one of {', '.join(SORT_KEYS)}")
            entries.sort(key=key, reverse=sort.startswith("-"))
        model["content"] = entries[offset : None if limit is None else offset + limit]
        return model, len(entries)

    def file_exists(self, api_path: str) -> bool:
        return os.path.isfile(self.root.os_path(api_path))

    def dir_exists(self, api_path: str) -> bool:
        return os.path.isdir(self.root.os_path(api_path))

    def exists(self, api_path: str) -> bool:
        return os.path.lexists(self.root.os_path(api_path))

    def file_hash(self, api_path: str) -> str | None:
        """sha256 of the file's bytes, or None if it is not a file."""
        os_path = self.root.os_path(api_path)
        try:
            with open(os_path, "rb") as f:
                return hashlib.file_digest(f, "sha256").hexdigest()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def _readable_os_path(self, api_path: str) -> str:
        os_path = self.root.os_path(api_path)
        if self.root.refuse_hidden(api_path) or not os.path.exists(os_path):
            raise errors.NotFound(f"file or directory '/{api_path}' does not exist")
        return os_path

    # -- models ----------------------------------------------------------------------

    def _base_model(self, api_path: str, os_path: str, st: os.stat_result | None = None) -> ContentsModel:
        st = st or os.stat(os_path)
        return {
            "name": split_api_path(api_path)[1],
            "path": api_path,
            "last_modified": iso_utc_ns(st.st_mtime_ns),
            "created": iso_utc_ns(st.st_ctime_ns),
            "content": None,
            "format": None,
            "mimetype": None,
            "size": st.st_size,
            "writable": os.access(os_path, os.W_OK) and not self.root.is_shared(api_path),
            "type": "file",
            "hash": None,
            "hash_algorithm": None,
        }

    def _dir_model(self, api_path: str, os_path: str, *, content: bool) -> ContentsModel:
        model = self._base_model(api_path, os_path)
        model["type"], model["size"] = "directory", None
        if content:
            if not self.root.is_shared(api_path):
                self.uploads.sweep_left_over(os_path)
            model["content"], model["format"] = self.lister.entries(api_path, os_path), "json"
        return model

    def _file_model(
        self, api_path: str, os_path: str, *, content: bool, format: str | None, require_hash: bool  # noqa: A002
    ) -> ContentsModel:
        if format not in (None, "text", "base64"):
            raise errors.Invalid(f"Format '{format}' is invalid")
        model = self._base_model(api_path, os_path)
        mimetype = guess_mimetype(os_path)
        model["mimetype"] = mimetype
        if not (content or require_hash):
            return model
        raw = _read_bytes(os_path, api_path)
        _set_hash(model, raw, require_hash)
        if not content:
            return model
        if format != "base64":
            try:
                model["content"], model["format"] = raw.decode("utf-8"), "text"
                model["mimetype"] = mimetype or "text/plain"
                return model
            except UnicodeDecodeError as exc:
                if format == "text":
                    raise errors.Invalid(f"{api_path} is not UTF-8 encoded", reason="bad format") from exc
        model["content"], model["format"] = base64.encodebytes(raw).decode("ascii"), "base64"
        model["mimetype"] = mimetype or "application/octet-stream"
        return model

    def _notebook_model(self, api_path: str, os_path: str, *, content: bool, require_hash: bool) -> ContentsModel:
        model = self._base_model(api_path, os_path)
        model["type"] = "notebook"
        if not (content or require_hash):
            return model
        raw = _read_bytes(os_path, api_path)
        digest = _set_hash(model, raw, require_hash)
        if content:
            nb = notebooks.parse_notebook(raw, api_path=api_path)
            known = self._checked.get(digest)
            if known is None:
                known = self._remember(digest, notebooks.validation_message(nb), self.notary.compute_signature(nb))
            message, signature = known
            model["content"], model["format"] = nb, "json"
            model["_signature"] = signature
            if message:
                model["message"] = message
        return model

    def _remember(self, digest: str, message: str | None, signature: str) -> tuple[str | None, str]:
        """Keep what validating and signing some notebook bytes found, keyed by their sha256.

        Both are pure functions of the bytes, and each costs ~10 ms for a 5 MB notebook: a
        notebook read again, or read right after it was saved, skips them. Plain dict
        operations are atomic, so worker threads may share this without a lock.
        """
        if len(self._checked) >= 256:
            self._checked.clear()
        self._checked[digest] = (message, signature)
        return message, signature

    def finish_get(self, model: ContentsModel) -> ContentsModel:
        """Mark a notebook's code cells trusted or not, from the signature store. Event loop only."""
        signature = model.pop("_signature", None)
        if signature is not None:
            notebooks.mark_cells(model["content"], self.notary.is_signed(signature))
        return model

    # -- writing ---------------------------------------------------------------------

    def save(self, model: dict[str, Any], api_path: str) -> tuple[ContentsModel, bool]:
        """Save a file, notebook or directory from a client's model. Returns (model, created).

        Files and notebooks are written atomically. A model with a ``chunk`` number is one
        piece of a chunked upload (1 first, -1 last): the pieces collect in a hidden file
        beside the target, which replaces the target only when the last piece arrives.
        Notebooks come back with ``_sign`` set when they should be signed: pass the model
        to ``finish_save`` on the event loop.
        """
        api_path = normalize_api_path(api_path)
        self._check_writable_name(api_path, "create")
        self.check_not_shared(api_path)
        if "copy_from" in model:
            raise errors.Invalid("Cannot copy with PUT, only POST")
        # The model's own `path` is not where it is saved, but jupyter_server refuses a hidden
        # one all the same, so a client cannot believe it saved a dot-file.
        model_path = model.get("path")
        if isinstance(model_path, str) and self.root.refuse_hidden(model_path):
            raise errors.Invalid(f"Cannot create file or directory '{api_path}'")
        os_path = self.root.os_path(api_path)
        existed = os.path.isfile(os_path)
        model = _as_new_model(model, api_path) if not existed else model
        kind = model.get("type")
        if kind not in (None, "", "directory", "file", "notebook"):
            kind = "file"  # as jupyter_server's handler falls back
        if not kind:
            raise errors.Invalid("No file type provided")
        if "content" not in model and kind != "directory":
            raise errors.Invalid("No file content provided")
        chunk = model.get("chunk")
        if kind == "directory" and chunk is None:
            self._mkdir(api_path, os_path)
            return self.get(api_path, content=False), True
        if os.path.isdir(os_path):
            # jupyter_server answers 500 (its write fails); it is the request that is wrong.
            raise errors.Invalid(f"{api_path or '/'} is a directory: a file cannot be saved over it")
        if chunk is not None:
            return self._save_chunk(model, api_path, os_path, chunk), not existed and chunk == 1
        self._require_parent(api_path, os_path)
        sign = None
        message = None
        if kind == "notebook":
            nb = model["content"]
            problem = notebooks.save_problem(nb)
            if problem:
                raise errors.Invalid(f"Unexpected error while saving file: {api_path} {problem}")
            trusted = notebooks.all_cells_trusted(nb)
            notebooks.normalize(nb)
            data, message = self._cell_cache.render(nb)
            if trusted:
                sign = self.notary.compute_signature(nb)
        elif kind == "file":
            data = _decode_content(model, api_path)
        else:
            raise errors.Invalid(f"Unhandled contents type: {kind}")
        written = fileio.atomic_write(os_path, data, api_path=api_path)
        if kind == "notebook":
            self._first_checkpoint(api_path)
        # The model of what was written, not of what is there now: another request may have
        # deleted or replaced it already, and the save did succeed.
        result = self._base_model(api_path, os_path, written)
        if kind == "notebook":
            result["type"] = "notebook"
        else:
            result["mimetype"] = guess_mimetype(os_path)
        if message:
            result["message"] = message
        if sign:
            result["_sign"] = sign
        return result, not existed

    def finish_save(self, model: ContentsModel) -> ContentsModel:
        """Sign a saved notebook (the signature store belongs to the event loop's thread)."""
        signature = model.pop("_sign", None)
        if signature is not None:
            self.notary.sign(signature)
        return model

    def _first_checkpoint(self, api_path: str) -> None:
        """A notebook always has a checkpoint: make one if there is none; never replace one.

        The save or copy itself succeeded: a first checkpoint that cannot be made (the file
        deleted or renamed meanwhile, a name too long for its checkpoint's) is logged, never
        reported as the save's failure.
        """
        try:
            if not self.checkpoints.list(api_path):
                self.checkpoints.create(api_path)
        except errors.NotebookError as exc:
            log.warning("no checkpoint for %s: %s", api_path, exc.message)
        except OSError as exc:
            log.warning("no checkpoint for %s: %s", api_path, exc.strerror or exc)

    def _save_chunk(self, model: dict[str, Any], api_path: str, os_path: str, chunk: Any) -> ContentsModel:
        """One chunk of an upload (``uploads.Uploads``); a malformed one changes nothing."""
        if model.get("type") != "file":
            raise errors.Invalid(f'File type "{model.get("type")}" is not supported for large file transfer')
        if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk == 0 or chunk < -1:
            raise errors.Invalid(f"Chunk {_short_repr(chunk)} is invalid: use 1 for the first, 2, 3, ... "
                                 "and -1 for the last")
        self._require_parent(api_path, os_path)
        data = _decode_content(model, api_path)
        st = self.uploads.write(api_path, os_path, chunk, data)
        result = self._base_model(api_path, os_path, st)
        result["mimetype"] = guess_mimetype(os_path)
        return result

    def _mkdir(self, api_path: str, os_path: str) -> None:
        if os.path.isdir(os_path):
            return
        if os.path.exists(os_path):
            raise errors.Invalid(f"Not a directory: {api_path}")
        self._require_parent(api_path, os_path)
        try:
            os.mkdir(os_path)
        except FileExistsError:  # made meanwhile, by another request
            if not os.path.isdir(os_path):
                raise errors.Invalid(f"Not a directory: {api_path}") from None
        except OSError as exc:
            raise fileio.save_error(exc, api_path) from exc

    def _require_parent(self, api_path: str, os_path: str) -> None:
        if not os.path.isdir(os.path.dirname(os_path)):
            raise errors.NotFound(f"No such directory: {split_api_path(api_path)[0]}")

    def _check_writable_name(self, api_path: str, verb: str) -> None:
        if self.root.refuse_hidden(api_path):
            raise errors.Invalid(f"Cannot {verb} file or directory '{api_path}'")

    def check_not_shared(self, *api_paths: str) -> None:
        """:raises errors.Forbidden: a path is a shared folder or lies in one: those are
            read-only for everyone (NOTEBOOK_SHARED_DIRS); what is in them may be copied out."""
        for api_path in api_paths:
            if self.root.is_shared(api_path):
                name = normalize_api_path(api_path).split("/", 1)[0]
                raise errors.Forbidden(f"'{name}' is a shared folder: it is read-only. Copy what you need into "
                                       "a folder of your own.", reason="read-only")

    # -- new, copy, rename, delete ----------------------------------------------------

    def new_untitled(self, api_path: str = "", *, type: str | None = None, ext: str = "") -> ContentsModel:  # noqa: A002
        """Create `Untitled.ipynb`, `untitled<ext>` or `Untitled Folder` (numbered if taken)."""
        api_path = normalize_api_path(api_path)
        if not self.dir_exists(api_path) or self.root.refuse_hidden(api_path):
            raise errors.NotFound(f"No such directory: {api_path}")
        self.check_not_shared(api_path)
        if type is None and ext == ".ipynb":
            type = "notebook"  # noqa: A001
        if type == "directory":
            name = self.increment_filename("Untitled Folder", api_path, insert=" ")
            return self._create(join_api_path(api_path, name), {"type": "directory"})
        if type == "notebook":
            # A notebook is always .ipynb, whatever `ext` says, as in jupyter_server.
            name = self.increment_filename("Untitled.ipynb", api_path)
            return self._create(join_api_path(api_path, name), {"type": "notebook", "content": notebooks.new_notebook()})
        name = self.increment_filename("untitled" + ext, api_path)
        return self._create(join_api_path(api_path, name), {"type": "file", "format": "text", "content": ""})

    def _create(self, api_path: str, model: dict[str, Any]) -> ContentsModel:
        created, _ = self.save(model, api_path)
        return created

    def increment_filename(self, filename: str, api_path: str = "", insert: str = "") -> str:
        """The first free name of `filename` with a counter inserted before its first dot.

        `.ipynb` names take the counter before the last dot instead (`a.b1.ipynb`).
        """
        basename, dot, ext = filename.rpartition(".")
        if ext != "ipynb":
            basename, dot, ext = filename.partition(".")
        suffix = dot + ext
        counter = 0
        while True:
            name = f"{basename}{insert}{counter if counter else ''}{suffix}" if counter else f"{basename}{suffix}"
            if not self.exists(join_api_path(api_path, name)):
                return name
            counter += 1

    def copy(self, from_path: str, to_path: str) -> ContentsModel:
        """Copy `from_path` into directory `to_path`, keeping the name if free, else `-CopyN`.

        A file copied to a `to_path` that does not exist is saved under that exact path; a
        directory copied there goes into it, the missing directories made (``_copy_directory``).
        """
        from_path, to_path = normalize_api_path(from_path), normalize_api_path(to_path)
        for path in (from_path, to_path):
            if self.root.refuse_hidden(path):
                raise errors.Invalid(f"Cannot copy file or directory '{path}'")
        self.check_not_shared(to_path)
        src = self.root.os_path(from_path)
        if not os.path.exists(src):
            raise errors.NotFound(f"file or directory '/{from_path}' does not exist")
        if os.path.isdir(src):
            target = self._copy_directory(from_path, to_path)
        else:
            target = self._copy_file(from_path, to_path)
        return self.get(target, content=False)

    def _copy_file(self, from_path: str, to_path: str) -> str:
        """Copy the file `from_path` (atomically); return the copy's API path."""
        from_name = split_api_path(from_path)[1]
        if self.dir_exists(to_path):
            name = self.increment_filename(_COPY_PAT.sub(".", from_name), to_path, insert="-Copy")
            target = join_api_path(to_path, name)
        else:
            target = to_path
            if not self.dir_exists(split_api_path(to_path)[0]):
                raise errors.NotFound(f"No such parent directory: {split_api_path(to_path)[0]} to copy file in")
        dst = self.root.os_path(target)
        if os.path.exists(dst):
            raise errors.Conflict(f"File already exists: {target}")
        try:
            fileio.atomic_copy(self.root.os_path(from_path), dst, api_path=target)
        except OSError as exc:  # reading the source: deleted or replaced meanwhile
            raise fileio.read_error(exc, from_path) from exc
        if target.endswith(".ipynb"):
            self._first_checkpoint(target)
        return target

    def _copy_directory(self, from_path: str, to_path: str) -> str:
        """Copy the directory `from_path` into the directory `to_path`, recursively, as
        jupyter_server does: under its own name (less any ``-CopyN``) if `to_path` does not
        exist yet (it is made, with its missing parents), else under the first free
        ``name-CopyN``. The copy appears whole or not at all, and follows no symlink
        (``fileio.copy_tree``). Returns the copy's API path.

        :raises errors.Invalid: the root, a tree over 500 MB, a copy into the tree itself,
            a `to_path` that is a file, or the copy failed (nothing of it is left).
        """
        from_name = split_api_path(from_path)[1]
        if not from_name:
            raise errors.Invalid("Can't copy the root directory")
        src = self.root.os_path(from_path)
        name = _COPY_PAT.sub(".", from_name)
        if self.dir_exists(to_path):
            name = self.increment_filename(name, to_path, insert="-Copy")
        elif self.exists(to_path):
            raise errors.Invalid(f"Can't copy '{from_path}' into '{to_path}': not a directory")
        target = join_api_path(to_path, name)
        dst = self.root.os_path(target)
        if os.path.realpath(dst).startswith(os.path.realpath(src).rstrip(os.sep) + os.sep):
            raise errors.Invalid(f"Can't copy '{from_path}' into itself")
        if _tree_size(src, stop_above=_COPY_DIR_LIMIT) > _COPY_DIR_LIMIT:
            raise errors.Invalid(f"Can't copy folders larger than {_COPY_DIR_LIMIT // 2**20}MB, "
                                 f"'{from_path}' is over {_COPY_DIR_LIMIT // 2**20} MB")
        try:
            fileio.copy_tree(src, dst, api_path=target)
        except errors.SaveFailed as exc:  # e.g. a FIFO in the tree, a full disk: 400, as there
            # The OS's words name OS paths: they go to the log, not to the client.
            log.warning("copy of %s into %s failed: %s", from_path, to_path, exc.__cause__ or exc.message)
            raise errors.Invalid(f"Can't copy '{from_path}' into Folder '{to_path}'") from exc
        return target

    def rename(self, old_path: str, new_path: str) -> ContentsModel:
        """Move a file or directory (and its checkpoints) to `new_path`.

        :raises errors.Conflict: something else already exists at `new_path`.
        """
        old_path, new_path = normalize_api_path(old_path), normalize_api_path(new_path)
        if new_path == old_path:
            return self.get(new_path, content=False)
        for path in (old_path, new_path):
            self._check_writable_name(path, "rename")
        self.check_not_shared(old_path, new_path)
        old_os, new_os = self.root.os_path(old_path), self.root.os_path(new_path)
        if not old_path:
            raise errors.Invalid("Can't rename root")
        # The source is checked first: samefile() cannot compare with a file that is not there.
        missing = errors.NotFound(f"File or directory does not exist: {old_path}")
        if not os.path.lexists(old_os):
            raise missing
        new_parent = split_api_path(new_path)[0]
        if not os.path.isdir(os.path.dirname(new_os)):
            raise errors.NotFound(f"No such directory: {new_parent}")
        if os.path.lexists(new_os) and not _same_file(old_os, new_os):
            raise errors.Conflict(f"File already exists: {new_path}")
        if os.path.isdir(old_os) and not os.path.islink(old_os) and new_os.startswith(old_os + os.sep):
            # jupyter_server answers 500 ("Unknown error renaming file"); the OS says EINVAL.
            raise errors.Invalid(f"Cannot move a directory '{old_path}' into itself '{new_path}'")
        try:
            if os.path.islink(old_os) and not _link_stays_inside(self.root, old_os, new_os):
                raise errors.Invalid(f"Cannot move the link {old_path} to {new_path}: it would point outside the root")
            os.rename(old_os, new_os)
        except OSError as exc:  # mostly another request, between the checks and the rename
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR):
                raise errors.Conflict(f"File already exists: {new_path}") from exc
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                raise missing if not os.path.lexists(old_os) else errors.NotFound(
                    f"No such directory: {new_parent}") from exc
            if exc.errno == errno.EINVAL:
                raise errors.Invalid(f"Cannot move a directory '{old_path}' into itself '{new_path}'") from exc
            raise fileio.save_error(exc, new_path) from exc
        self.checkpoints.rename(old_path, new_path)
        return self.get(new_path, content=False)

    def delete(self, api_path: str) -> None:
        """Delete a file or a directory with everything in it, the path's checkpoints, and an
        upload to it under way (``uploads.Uploads.cancel``): with only that, the delete
        cancels the upload.

        :raises errors.NotFound: nothing there (deleted meanwhile, maybe).
        """
        api_path = normalize_api_path(api_path)
        if not api_path:
            raise errors.Invalid("Can't delete root")
        self._check_writable_name(api_path, "delete")
        self.check_not_shared(api_path)
        os_path = self.root.os_path(api_path)
        cancelled = self.uploads.cancel(api_path)
        missing = errors.NotFound(f"File or directory does not exist: {api_path}")
        if not os.path.lexists(os_path):
            if cancelled:
                return
            raise missing
        try:
            if os.path.isdir(os_path) and not os.path.islink(os_path):
                shutil.rmtree(os_path, onerror=_unless_gone)
            else:
                os.unlink(os_path)
        except FileNotFoundError as exc:  # deleted meanwhile, by another request
            raise missing from exc
        except OSError as exc:
            raise fileio.save_error(exc, api_path) from exc
        self.checkpoints.delete_all(api_path)

    def cancel_upload(self, api_path: str) -> None:
        """Stop a chunked upload to `api_path` and remove its partial file, leaving the
        target (a file the upload was replacing) as it is.

        :raises errors.NotFound: no upload to that path is under way.
        """
        api_path = normalize_api_path(api_path)
        if not api_path:
            raise errors.Invalid("Can't upload to root")
        self._check_writable_name(api_path, "delete")
        self.check_not_shared(api_path)
        if not self.uploads.cancel(api_path):
            raise errors.NotFound(f"No upload to {api_path} is under way")

    # -- checkpoints and trust -----------------------------------------------------------

    def create_checkpoint(self, api_path: str) -> CheckpointModel:
        self._readable_os_path(normalize_api_path(api_path))
        self.check_not_shared(api_path)
        return self.checkpoints.create(normalize_api_path(api_path))

    def list_checkpoints(self, api_path: str) -> list[CheckpointModel]:
        return self.checkpoints.list(normalize_api_path(api_path))

    def restore_checkpoint(self, checkpoint_id: str, api_path: str) -> None:
        self.check_not_shared(api_path)
        self.checkpoints.restore(checkpoint_id, normalize_api_path(api_path))

    def delete_checkpoint(self, checkpoint_id: str, api_path: str) -> None:
        self.check_not_shared(api_path)
        self.checkpoints.delete(checkpoint_id, normalize_api_path(api_path))

    def trust_notebook(self, api_path: str) -> None:
        """Sign the notebook as it is on disk, so its outputs are trusted."""
        api_path = normalize_api_path(api_path)
        os_path = self._readable_os_path(api_path)
        nb = notebooks.parse_notebook(_read_bytes(os_path, api_path), api_path=api_path)
        self.notary.sign(self.notary.compute_signature(nb))


def _unless_gone(function: Any, path: str, excinfo: Any) -> None:
    """``rmtree``'s error handler: what another request deleted first is deleted."""
    if not isinstance(excinfo[1], FileNotFoundError):
        raise excinfo[1]


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _tree_size(os_path: str, *, stop_above: int) -> int:
    """Bytes in the regular files under `os_path`, symlinks not followed; the walk stops as
    soon as the count passes `stop_above` (a huge tree is not walked to the end to refuse it)."""
    total = 0
    for folder, _, files in os.walk(os_path):
        for name in files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if not stat.S_ISLNK(st.st_mode):
                total += st.st_size
                if total > stop_above:
                    return total
    return total


def _link_stays_inside(root: Root, link: str, new_location: str) -> bool:
    """Whether the symlink `link`, moved to `new_location`, would still resolve inside the root."""
    target = os.readlink(link)
    resolved = os.path.join(os.path.dirname(new_location), target)
    return root.is_inside(resolved, root.os_root)


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (a case-only rename on a case-insensitive disk).

    A broken symlink names no file, so it is never the same as anything.
    """
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _set_hash(model: ContentsModel, raw: bytes, public: bool) -> str:
    """Record the sha256 of what was read: as `hash` if asked for, always as the internal
    `_sha256`, which the web layer sends as the ETag and checks If-Match against."""
    digest = hashlib.sha256(raw).hexdigest()
    model["_sha256"] = digest
    if public:
        model["hash"], model["hash_algorithm"] = digest, "sha256"
    return digest


def _read_bytes(os_path: str, api_path: str) -> bytes:
    try:
        with open(os_path, "rb") as f:
            return f.read()
    except OSError as exc:  # permissions, or deleted or replaced meanwhile
        raise fileio.read_error(exc, api_path) from exc


def _as_new_model(model: dict[str, Any], api_path: str) -> dict[str, Any]:
    """A PUT that makes a new file, as jupyter_server's ``ContentsManager.new`` reads it: the
    type defaults by extension, and a file or notebook without content is an empty one."""
    model = dict(model)
    model.setdefault("type", "notebook" if api_path.endswith(".ipynb") else "file")
    if "content" not in model and model["type"] != "directory":
        if model["type"] == "notebook":
            model.update(content=notebooks.new_notebook(), format="json")
        else:
            model.update(content="", type="file", format="text")
    return model


def _decode_content(model: dict[str, Any], api_path: str) -> bytes:
    content, fmt = model.get("content"), model.get("format")
    if fmt not in ("text", "base64"):
        raise errors.Invalid("Must specify format of file contents as 'text' or 'base64'")
    if not isinstance(content, str):
        raise errors.Invalid(f"File content of {api_path} must be a string")
    if fmt == "text":
        try:
            return content.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: no UTF-8 (nor text) has it
            raise errors.Invalid(f"Encoding error saving {api_path}: {exc}") from exc
    try:
        return base64.b64decode(content.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise errors.Invalid(f"Encoding error saving {api_path}: {exc}") from exc
