"""Wire models, as jupyter_server sends them (contract section 3)."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class ContentsModel(TypedDict, total=False):
    name: str
    path: str
    type: str
    writable: bool
    created: str
    last_modified: str
    size: int | None
    mimetype: str | None
    content: Any
    format: str | None
    hash: str | None
    hash_algorithm: str | None
    message: str
    # Internal, never sent: the web layer pops them (ETag, trust marks, signing on save).
    _sha256: str
    _signature: str
    _sign: str


class CheckpointModel(TypedDict):
    id: str
    last_modified: str


class KernelspecModel(TypedDict):
    name: str
    spec: dict[str, Any]
    resources: dict[str, str]


class Identity(TypedDict):
    username: str
    name: str
    display_name: str
    initials: str
    avatar_url: str | None
    color: str | None


class TerminalModel(TypedDict):
    name: str
    last_activity: str


class SessionNotebook(TypedDict):
    path: str
    name: str | None


class SessionModel(TypedDict):
    id: str
    path: str
    name: str | None
    type: str | None
    kernel: dict[str, Any]
    #: Only for type "notebook": the legacy form, still sent by jupyter_server 2.21.
    notebook: NotRequired[SessionNotebook]
