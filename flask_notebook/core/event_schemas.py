"""The event schemas jupyter_server 2.21 registers, as data.

Copied from the reference's ``jupyter_server/event_schemas/*/v1.yaml``: the same ``$id``,
``version`` and validation keywords (``type``, ``required``, ``properties``, ``enum``,
``if``/``then``), in the same key order, which decides which error jsonschema reports first.
The long descriptions are shortened; the YAML files have them in full.
"""

from __future__ import annotations

from typing import Any

KERNEL_ACTIONS = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"
CONTENTS_SERVICE = "https://events.jupyter.org/jupyter_server/contents_service/v1"
GATEWAY_CLIENT = "https://events.jupyter.org/jupyter_server/gateway_client/v1"

_STATUS = {"enum": ["error", "success"], "description": "Whether the operation succeeded."}
_STATUS_CODE = {"type": "number", "description": "The HTTP status of a failed request to a (gateway) kernel server."}

CONTENTS_SERVICE_V1: dict[str, Any] = {
    "$id": CONTENTS_SERVICE,
    "version": "1",
    "title": "Contents Manager activities",
    "personal-data": True,
    "description": "Actions on files through the contents REST API; recorded when they succeed.",
    "type": "object",
    "required": ["action", "path"],
    "properties": {
        "action": {
            "enum": ["get", "create", "save", "upload", "rename", "copy", "delete"],
            "description": "The action performed.",
        },
        "path": {"type": "string", "description": "The API path acted on (the new path of a rename or copy)."},
        "source_path": {"type": "string", "description": "The source of a rename or copy."},
    },
}

KERNEL_ACTIONS_V1: dict[str, Any] = {
    "$id": KERNEL_ACTIONS,
    "version": "1",
    "title": "Kernel Manager activities",
    "personal-data": True,
    "description": "Kernels started, interrupted, restarted and shut down.",
    "type": "object",
    "required": ["action", "msg"],
    "properties": {
        "action": {"enum": ["start", "interrupt", "shutdown", "restart"], "description": "The action performed."},
        "kernel_id": {"type": "string", "description": "Required except for a start that failed."},
        "kernel_name": {"type": "string", "description": "The kernelspec name."},
        "status": _STATUS,
        "status_code": _STATUS_CODE,
        "msg": {"type": "string", "description": "What happened, in words."},
    },
    "if": {"not": {"properties": {"status": {"const": "error"}, "action": {"const": "start"}}}},
    "then": {"required": ["kernel_id"]},
}

GATEWAY_CLIENT_V1: dict[str, Any] = {
    "$id": GATEWAY_CLIENT,
    "version": "1",
    "title": "Gateway Client activities.",
    "personal-data": True,
    "description": "Requests to a kernel gateway (registered as the reference does; never emitted here).",
    "type": "object",
    "required": ["status", "msg"],
    "properties": {
        "status": _STATUS,
        "status_code": _STATUS_CODE,
        "msg": {"type": "string", "description": "What happened, in words."},
        "gateway_url": {"type": "string", "description": "The gateway's URL."},
    },
}

#: Every schema a server registers at start, as jupyter_server's ``init_event_logger`` does.
DEFAULT_SCHEMAS = (CONTENTS_SERVICE_V1, KERNEL_ACTIONS_V1, GATEWAY_CLIENT_V1)
