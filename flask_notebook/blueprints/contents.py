"""`/api/contents`: thin views over ``ContentsManager`` (contract section 3), the request's
user's (``ownership.workspace``)."""

from __future__ import annotations

from hashlib import sha1
from urllib.parse import quote

import orjson
from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..core import errors, rundoc
from ..core.contents import ContentsManager
from ..core.models import ContentsModel
from ..extension import state
from . import ownership
from .events import emit_contents
from .http import http_date, json_body, json_response, offload, query_arg

bp = Blueprint("contents", __name__, url_prefix="/contents")

# Werkzeug merges `//` in URLs by redirecting; a `%2F`-encoded separator decodes to one, and
# must reach the path check instead of being quietly rewritten.
ROUTE = {"merge_slashes": False}


def _flag(name: str, default: bool) -> bool:
    value = query_arg(name)
    if value is None:
        return default
    if value not in ("0", "1"):
        raise errors.Invalid(f"{name.capitalize()} '{value}' is invalid")
    return value == "1"


def _int_arg(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise errors.Invalid(f"'{name}' must be a non-negative integer, got '{value}'")
    return int(value)


def _location(api_path: str) -> str:
    return url_for(".get_contents", api_path=api_path) if api_path else url_for(".get_contents")


def _model_response(model: ContentsModel, status: int = 200, *, location: bool = True) -> Response:
    headers = {"Last-Modified": http_date(model["last_modified"])}
    if location:
        headers["Location"] = quote(_location(model["path"]), safe="/%")
    return json_response(model, status, headers)


def _slash_redirect(api_path: str) -> BaseResponse | None:
    """`/api/contents/sub/` answers 302 to `/api/contents/sub`, as jupyter_server does."""
    if api_path.endswith("/") and request.method in ("GET", "POST", "PUT"):
        url = request.script_root + request.path.rstrip("/")
        if request.query_string:
            url += "?" + request.query_string.decode("latin-1")
        return redirect(url, 302)
    return None


@bp.get("/", defaults={"api_path": ""}, strict_slashes=False)
@bp.get("/<nb_path:api_path>", **ROUTE)
def get_contents(api_path: str) -> BaseResponse:
    if redirect_response := _slash_redirect(api_path):
        return redirect_response
    contents = ownership.workspace().contents
    kind = query_arg("type")
    if kind is not None and kind not in ("file", "directory", "notebook"):
        kind = "file"
    fmt = query_arg("format")
    if fmt is not None and fmt not in ("text", "base64"):
        raise errors.Invalid(f"Format '{fmt}' is invalid")
    content = _flag("content", True)
    require_hash = _flag("hash", False)
    sort, offset, limit = request.args.get("sort"), _int_arg("offset"), _int_arg("limit")
    headers: dict[str, str] = {}
    if content and (sort or offset is not None or limit is not None) and contents.dir_exists(api_path):
        model, total = offload(contents.list_directory, api_path, sort=sort, offset=offset or 0, limit=limit)
        headers["X-Total-Count"] = str(total)
    else:
        model = offload(contents.get, api_path, content=content, type=kind, format=fmt, require_hash=require_hash)
        model = contents.finish_get(model)
    emit_contents("get", model["path"])
    if model["type"] != "directory":
        digest = model.pop("_sha256", None)
        if digest:
            headers["ETag"] = f'"{digest}"'
    response = _model_response(model, location=False)
    response.headers.update(headers)
    return response


@bp.post("/", defaults={"api_path": ""}, strict_slashes=False)
@bp.post("/<nb_path:api_path>", **ROUTE)
def create_contents(api_path: str) -> BaseResponse:
    if redirect_response := _slash_redirect(api_path):
        return redirect_response
    contents = ownership.workspace().contents
    body = json_body() or {}
    if not isinstance(body, dict):
        raise errors.Invalid("The body must be a JSON object")
    if contents.file_exists(api_path):
        raise errors.Invalid("Cannot POST to files, use PUT instead.")
    # Empty values count as absent, as jupyter_server reads them; others must be text
    # (there, a list or an object was a 500).
    copy_from, ext = body.get("copy_from") or None, body.get("ext") or ""
    for field, value in (("copy_from", copy_from), ("ext", ext)):
        if value is not None and not isinstance(value, str):
            raise errors.Invalid(f"'{field}' must be a string")
    if copy_from:
        model = offload(contents.copy, copy_from, api_path)
        emit_contents("copy", model["path"], copy_from.strip("/"))
    else:
        # An empty type counts as absent, so {"type": "", "ext": ".ipynb"} makes a notebook.
        kind = body.get("type") or None
        if kind not in (None, "file", "notebook", "directory"):
            kind = "file"
        model = offload(contents.new_untitled, api_path, type=kind, ext=ext)
        emit_contents("save", model["path"])
    return _model_response(contents.finish_save(model), 201)


@bp.put("/", defaults={"api_path": ""}, strict_slashes=False)
@bp.put("/<nb_path:api_path>", **ROUTE)
def save_contents(api_path: str) -> BaseResponse:
    if redirect_response := _slash_redirect(api_path):
        return redirect_response
    contents = ownership.workspace().contents
    body = json_body()
    if not body:
        # No model (no body, or an empty or false one, as jupyter_server reads it): a new
        # untitled file in the directory the URL names.
        if not contents.dir_exists(api_path):
            raise errors.NotFound(f"No such directory: {api_path}")
        model = offload(contents.new_untitled, api_path)
        emit_contents("save", model["path"])
        return _model_response(contents.finish_save(model), 201)
    if not isinstance(body, dict):
        raise errors.Invalid("The body must be a JSON object (a contents model)")
    # A notebook a run writes (in place, or its output copy): the user's save is merged with
    # the run's outputs.
    document = rundoc.writing(contents, api_path)
    after_run = None
    if request.if_match and body.get("chunk") in (None, 1):
        after_run = _check_unchanged(api_path, document)
    if document is not None and body.get("chunk") is None:
        model, created = document.save_user_version(body)
    elif after_run is not None and body.get("chunk") is None:
        model, created = offload(rundoc.save_after_run, contents, after_run, body, api_path)
    else:
        model, created = offload(contents.save, body, api_path)
    emit_contents("save", model["path"])  # every chunk of an upload, as jupyter_server
    return _model_response(contents.finish_save(model), 201 if created else 200)


def _check_unchanged(api_path: str, document: rundoc.RunDocument | None = None) -> rundoc.Finished | None:
    """A save with If-Match fails with 409 when the file is no longer what the client read.

    If-Match may carry the file's sha256 (`hash=1`, or the ETag of a GET that read the
    content) or the ETag of a `content=0` GET, which changes with size and mtime. While a
    run writes the notebook in place (`document`), a version the run read or wrote is no
    conflict: the save is merged with the run's part. After such a run, neither is one
    (returned: the save is to be merged with what the run left) while the file is still
    the run's last version.
    """
    contents = ownership.workspace().contents
    if document is not None and any(request.if_match.contains(digest) for digest in document.known_hashes):
        return None
    if request.if_match.star_tag:
        if not contents.exists(api_path):
            raise errors.Conflict(f"{api_path} no longer exists", reason="conflict")
        return None
    current = offload(contents.file_hash, api_path)
    if current is None:
        raise errors.Conflict(f"{api_path} was deleted or replaced since it was read", reason="conflict")
    finished = rundoc.finished_run(contents, api_path)
    if finished is not None and current == finished.last_hash and not request.if_match.contains(current) and \
            any(request.if_match.contains(digest) for digest in finished.known_hashes):
        return finished
    candidates = {current}
    if contents.file_exists(api_path):
        metadata_model = contents.get(api_path, content=False)
        candidates.add(sha1(orjson.dumps(metadata_model)).hexdigest())
    if not any(request.if_match.contains(tag) for tag in candidates):
        raise errors.Conflict(f"{api_path} changed on disk since it was read; reload it or save elsewhere",
                              reason="conflict")
    return None


@bp.patch("/", defaults={"api_path": ""}, strict_slashes=False)
@bp.patch("/<nb_path:api_path>", **ROUTE)
def rename_contents(api_path: str) -> Response:
    contents = ownership.workspace().contents
    body = json_body()
    if body is None:
        raise errors.Invalid("JSON body missing")
    if not isinstance(body, dict):
        raise errors.Invalid("The body must be a JSON object")
    new_path = body.get("path")
    if new_path is None:
        model = offload(contents.get, api_path, content=False)
        emit_contents("get", model["path"])
        return _model_response(model)
    if not isinstance(new_path, str):
        raise errors.Invalid("'path' must be a string")
    _check_no_run_writes(contents, api_path, "renamed")
    model = offload(contents.rename, api_path, new_path)
    emit_contents("rename", model["path"], api_path.strip("/"))
    return _model_response(model)


@bp.delete("/", defaults={"api_path": ""}, strict_slashes=False)
@bp.delete("/<nb_path:api_path>", **ROUTE)
def delete_contents(api_path: str) -> Response:
    if _flag("upload", False):  # ours: cancel the upload to the path, keep the file
        offload(ownership.workspace().contents.cancel_upload, api_path)
        return Response(status=204)
    contents = ownership.workspace().contents
    _check_no_run_writes(contents, api_path, "deleted")
    offload(contents.delete, api_path)
    emit_contents("delete", api_path.strip("/"))
    return Response(status=204)


def _check_no_run_writes(contents: ContentsManager, api_path: str, done: str) -> None:
    """:raises errors.Conflict: a run is writing that notebook (its next save would bring it back)."""
    run = state().runs.writer_of(contents, api_path)
    if run is not None:
        raise errors.Conflict(f"{api_path.strip('/')} cannot be {done} while run {run.id} writes it: cancel the "
                              "run or wait for it to end", reason="run in progress")


# -- checkpoints and trust --------------------------------------------------------------------


@bp.get("/<nb_path:api_path>/checkpoints", **ROUTE)
def list_checkpoints(api_path: str) -> Response:
    return json_response(ownership.workspace().contents.list_checkpoints(api_path))


@bp.post("/<nb_path:api_path>/checkpoints", **ROUTE)
def create_checkpoint(api_path: str) -> Response:
    checkpoint = offload(ownership.workspace().contents.create_checkpoint, api_path)
    location = url_for(".restore_checkpoint", api_path=api_path, checkpoint_id=checkpoint["id"])
    return json_response(checkpoint, 201, {"Location": quote(location, safe="/%")})


@bp.post("/<nb_path:api_path>/checkpoints/<checkpoint_id>", **ROUTE)
def restore_checkpoint(api_path: str, checkpoint_id: str) -> Response:
    offload(ownership.workspace().contents.restore_checkpoint, checkpoint_id, api_path)
    # jupyter_server emits nothing for checkpoints, and contents_service/v1 has no action for
    # them; but a restore rewrites the file, which subscribers would otherwise not learn.
    emit_contents("save", api_path.strip("/"))
    return Response(status=204)


@bp.delete("/<nb_path:api_path>/checkpoints/<checkpoint_id>", **ROUTE)
def delete_checkpoint(api_path: str, checkpoint_id: str) -> Response:
    ownership.workspace().contents.delete_checkpoint(checkpoint_id, api_path)
    return Response(status=204)


@bp.post("/<nb_path:api_path>/trust", **ROUTE)
def trust_notebook(api_path: str) -> Response:
    ownership.workspace().contents.trust_notebook(api_path)
    return Response(status=201)

