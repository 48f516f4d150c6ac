"""Every ``NOTEBOOK_*`` setting, defined once: its key, type, default, meaning and check.

``Settings.from_config(app.config)`` reads and checks them all at start-up, so that a bad
value stops the app with one line (``NOTEBOOK_CULL_INTERVAL must be a number of seconds (0 or
more), not 'often'``) instead of failing later, and views read typed values
(``state().settings.cull_interval``) instead of ``app.config``. The ``init_app`` docstring's
list of keys is made from these definitions; the README's table is checked against them
(``tests/test_config_reference.py``).

Standard library only, as ``limits`` (which uses it) must be for gunicorn.conf.py.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import textwrap
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: What every bad value is reported as: the key, what it must be, and the value as given.
MESSAGE = "{key} must be {expected}, not {value!r}"


class Invalid(ValueError):
    """A setting's value is unusable; ``expected`` says what it must be."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def invalid(key: str, value: Any, expected: str) -> ValueError:
    """The start-up error for `key`: one line, naming the key, what it must be, and `value`."""
    return ValueError(MESSAGE.format(key=key, expected=expected, value=value))


# -- parsers: raw config value -> typed value, or Invalid ---------------------------------------


def _flag(value: Any) -> bool:
    """``True``/``False``, or their JSON spellings (as the environment gives them); ``None`` and
    ``""`` (unset) are false, as they always were."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", ""):
        return value.strip().lower() in ("true", "1")
    raise Invalid("true or false")


def _number(value: Any) -> float:
    """A finite number, or a string of one (``"2.5"``); NaN for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return math.nan
    try:
        number = float(value)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def _whole(value: Any) -> int | None:
    """A whole number (``3``, ``3.0``, ``"3"``), or None."""
    number = _number(value)
    if math.isnan(number) or number != int(number):
        return None
    if isinstance(value, str) and not re.fullmatch(r"\s*[+-]?\d+(\.0*)?\s*", value):
        return None  # "1e3" is a number but not how anyone writes a count
    return int(number)


def seconds(*, above_zero: bool = False, empty: float | None = None) -> Callable[[Any], float]:
    """A number of seconds, 0 or more (or above 0); `empty` stands for None and ``""`` if given."""
    expected = "a number of seconds above 0" if above_zero else "a number of seconds (0 or more)"

    def parse(value: Any) -> float:
        if empty is not None and value in (None, ""):
            return float(empty)
        number = _number(value)
        if not (number > 0 if above_zero else number >= 0):
            raise Invalid(expected)
        return number

    return parse


def count(what: str, *, above_zero: bool = False) -> Callable[[Any], int]:
    """A whole number of `what`, 0 or more (or above 0)."""
    expected = f"a whole number of {what}" + (" above 0" if above_zero else " (0 or more)")

    def parse(value: Any) -> int:
        number = _whole(value)
        if number is None or not (number > 0 if above_zero else number >= 0):
            raise Invalid(expected)
        return number

    return parse


def _optional_count(value: Any) -> int | None:
    if value is None or value == "":
        return None
    number = _whole(value)
    if number is None or number < 0:
        raise Invalid("a whole number, 0 or more (unset: no limit)")
    return number


def _message_size(value: Any) -> int | None:
    if value is None or value == "":
        return None
    number = _whole(value)
    if number is None or number < 0:
        raise Invalid("a whole number of bytes (0 or unset: no limit)")
    return number or None


def _execute_timeout(value: Any) -> float | None:
    if value is None or value == "":
        return None
    number = _number(value)
    if not number >= 0:
        raise Invalid("a number of seconds (0: no limit)")
    return number or None


def _max_connections(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise Invalid("a whole number above 0 (or unset)")


def _proxy_hops(value: Any) -> int:
    """A count of proxies, or ``true`` for one."""
    if value is None:
        return 0
    if isinstance(value, str):
        value = {"true": 1, "false": 0, "": 0}.get(value.strip().lower(), value.strip())
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise Invalid("a number of proxies (0, 1, 2, ...)")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("a string")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a kernelspec name")
    return value


def _optional_text(value: Any) -> str | None:
    """A string, or None; ``""`` is None too."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid("a string (or None)")
    return value


def _database_url(value: Any) -> str | None:
    """A SQLAlchemy URL (``dialect[+driver]://...``), or None for the default."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.match(r"[A-Za-z][A-Za-z0-9]*(\+[A-Za-z0-9_]+)?://", value):
        # Not `Invalid`, whose message repeats the value: a mistyped URL may hold a password.
        raise ValueError("NOTEBOOK_DATABASE_URL must be a database URL such as sqlite:////path/to/file.sqlite "
                         "or postgresql+psycopg://user:password@host/db (the value given is not shown: it may "
                         "hold a password)")
    return value


def _replica_id(value: Any) -> str | None:
    """A replica's name: 1 to 64 letters, digits, ``.``, ``_``, ``-``; None for the default."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", value):
        raise Invalid("a name of 1 to 64 letters, digits, '.', '_' or '-'")
    return value


def _replica_url(value: Any) -> str | None:
    """Where other replicas reach this one: ``http(s)://host:port``, no path (they send the
    paths their clients asked for); None: replicas do not forward to each other."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid("a URL such as http://10.0.0.5:8888")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (a port that is not a number raises)
    except ValueError:
        raise Invalid("a URL such as http://10.0.0.5:8888") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username or parts.password:
        raise Invalid("an http:// or https:// URL with a host and port and no path, such as http://10.0.0.5:8888")
    return value.rstrip("/")


def _token(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise Invalid('a string (None: generated; "": no token)')


def _secret_key(value: Any) -> str | None:
    if value is None or value == "" or value == b"":
        return None
    if not isinstance(value, (str, bytes)):
        raise Invalid("a string (or None)")
    return str(value)  # bytes as str() spells them, as always: the cookies it signed stay valid


def _code(value: Any) -> str:
    if value is None:
        return ""
    return _text(value)


def _strings(what: str) -> Callable[[Any], tuple[str, ...]]:
    def parse(value: Any) -> tuple[str, ...]:
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
            raise Invalid(f"a list of {what}")
        return tuple(value)

    return parse


def _pattern(value: Any) -> re.Pattern[str] | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid("a regular expression")
    try:
        return re.compile(value)
    except re.error as exc:
        raise Invalid(f"a regular expression ({exc})") from None


def _path(value: Any) -> str | None:
    """A path as a string, or None."""
    if value is None or value == "":
        return None
    path = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(path, str):
        raise Invalid("a directory")
    return path


def _root_dir(value: Any) -> str:
    """An existing directory; None: the current directory.

    :raises ValueError: not a directory (a message of its own: the value is well formed).
    """
    path = _path(value) or os.getcwd()
    if not os.path.isdir(path):
        raise ValueError(f"NOTEBOOK_ROOT_DIR {path!r} is not a directory")
    return path


def _kernel_pool(value: Any) -> dict[str, int]:
    from .core.pool import parse_sizes  # gevent and jupyter_client: loaded only when checked

    if value is None or value == "":
        return {}
    if not isinstance(value, (dict, str)):
        raise Invalid('kernelspec names with sizes, like {"python3": 2} or "python3=2,r=1"')
    try:
        return parse_sizes(value)
    except ValueError as exc:
        raise Invalid(f'kernelspec names with sizes, like {{"python3": 2}} or "python3=2,r=1" ({exc})') from None


# -- many users (issue 19) ----------------------------------------------------------------------


def _user_root(value: Any) -> str | Callable[..., Any] | None:
    """A path template holding ``{username}``, or a callable ``(user) -> path``, or None."""
    if value is None or value == "":
        return None
    if callable(value):
        return value  # type: ignore[no-any-return]
    path = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(path, str) or "{username}" not in path:
        raise Invalid("a path template holding {username} (e.g. /srv/notebooks/{username}), or a callable")
    try:
        path.format(username="x")
    except (KeyError, IndexError, ValueError):
        raise Invalid("a path template whose only field is {username}") from None
    return path


def _shared_dirs(value: Any) -> dict[str, str]:
    """Folder name in every user's tree -> a directory shown there read-only."""
    if value is None or value == "":
        return {}
    expected = 'folder names with existing directories, like {"data": "/srv/data"}'
    if not isinstance(value, dict):
        raise Invalid(expected)
    shared: dict[str, str] = {}
    for name, path in value.items():
        if not isinstance(name, str) or not name or name.startswith(".") or "/" in name or "\\" in name \
                or name in ("..", "."):
            raise Invalid(expected + f" (bad folder name {name!r})")
        if not isinstance(path, (str, os.PathLike)) or not os.path.isdir(path):
            raise Invalid(expected + f" ({path!r} is not a directory)")
        shared[name] = os.path.realpath(path)
    return shared


def _sandbox(value: Any) -> str | None:
    """``"bubblewrap"``, ``"none"``, or None: bubblewrap when NOTEBOOK_USER_ROOT is set."""
    if value is None or value == "":
        return None
    if value in ("bubblewrap", "none"):
        return str(value)
    raise Invalid('"bubblewrap" or "none" (unset: bubblewrap when NOTEBOOK_USER_ROOT is set)')


def _env_additions(value: Any) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and k and "=" not in k and isinstance(v, str)
                                              for k, v in value.items()):
        raise Invalid('a mapping of variable names to strings, like {"MPLBACKEND": "Agg"}')
    return dict(value)


_SIZE_UNITS = {"": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024 ** 2, "mb": 1000 ** 2, "mib": 1024 ** 2,
               "g": 1024 ** 3, "gb": 1000 ** 3, "gib": 1024 ** 3}


def _memory_limit(value: Any) -> int | None:
    """Bytes (``268435456``, ``"256MiB"``, ``"1G"``), or None (``0``, unset: no limit)."""
    if value is None or value == "" or value == 0:
        return None
    expected = 'a number of bytes, like 268435456 or "256MiB" (unset: no limit)'
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
        if match is None or match.group(2).lower() not in _SIZE_UNITS:
            raise Invalid(expected)
        number = float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    else:
        number = _number(value)
    if not number >= 1024 * 1024:  # below 1 MiB no Python starts: a unit forgotten
        raise Invalid(expected + ", at least 1 MiB")
    return int(number)


def _cpu_limit(value: Any) -> float | None:
    if value is None or value == "" or value == 0:
        return None
    number = _number(value)
    if not number >= 0.01:
        raise Invalid("a number of CPUs above 0, like 0.5 or 2 (unset: no limit)")
    return number


_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}


class Rate(NamedTuple):
    """At most `requests` requests per `period` seconds."""

    requests: int
    period: float


def _rate(value: Any) -> Rate | None:
    if value is None or value == "":
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*", value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) < 1:
        raise Invalid('a rate like "60/minute" (per second, minute, hour or day; unset: no limit)')
    return Rate(int(match.group(1)), _PERIODS[match.group(2)])


def _audit_log(value: Any) -> str | None:
    """A file path, or ``logger:<name>`` for a Python logger."""
    if value is None or value == "":
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise Invalid('a file path, or "logger:<name>" for a Python logger')
    text = os.fspath(value)
    if text.startswith("logger:") and not text[len("logger:"):].strip():
        raise Invalid('a file path, or "logger:<name>" for a Python logger')
    return text


def _audit_code(value: Any) -> str:
    if value in ("full", "hash", "none"):
        return str(value)
    raise Invalid('"full", "hash" or "none"')


# -- runs (issue 20) ----------------------------------------------------------------------------


class RunHistory(NamedTuple):
    """Finished runs kept: at most `runs`, none older than `age` seconds."""

    runs: int
    age: float


def _run_history(value: Any) -> RunHistory:
    expected = 'a count and an age in seconds, like {"count": 1000, "age": 2592000}'
    if isinstance(value, RunHistory):
        return value
    if not isinstance(value, dict) or set(value) - {"count", "age"}:
        raise Invalid(expected)
    count_ = _whole(value.get("count", 1000))
    age = _number(value.get("age", 30 * 86400))
    if count_ is None or count_ < 0 or not age >= 0:
        raise Invalid(expected)
    return RunHistory(count_, age)


def _gateway_url(value: Any) -> str | None:
    """An ``http://`` or ``https://`` URL with a host, or None (kernels run here)."""
    if value is None or value == "":
        return None
    from urllib.parse import urlsplit
    expected = ('an http:// or https:// URL without credentials, like "http://enterprise-gateway:8888" (unset: local '
                'kernels; the token goes in NOTEBOOK_GATEWAY_TOKEN)')
    if not isinstance(value, str):
        raise Invalid(expected)
    try:
        parts = urlsplit(value)
        # No user:password@ (it would be logged, and shown in errors): NOTEBOOK_GATEWAY_TOKEN or _HEADERS.
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment \
            and parts.username is None and parts.password is None
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        ok = False
    if not ok:
        raise Invalid(expected)
    return value.rstrip("/")


def _gateway_headers(value: Any) -> dict[str, str]:
    expected = 'a JSON object of header names to strings, like {"X-Team": "data"}'
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise Invalid(expected)
    for name, text in value.items():
        if not (isinstance(name, str) and re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name) and isinstance(text, str)
                and not any(ch in text for ch in "\r\n\0")):
            raise Invalid(expected)
    return dict(value)


def _file(value: Any) -> str | None:
    """A path to a file that exists, or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.path.isfile(os.fspath(value)):
        raise Invalid("the path of a file that exists")
    return os.fspath(value)


def _env_names(value: Any) -> frozenset[str]:
    """Names of environment variables (never ``KERNEL_USERNAME``, which is the owner's)."""
    expected = 'a list of environment variable names, like ["KERNEL_NAMESPACE"] (not KERNEL_USERNAME)'
    if value is None or value == "":
        return frozenset()
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(name, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", name)
            and name != "KERNEL_USERNAME" for name in value):
        raise Invalid(expected)
    return frozenset(value)


# -- the definitions --------------------------------------------------------------------------


def setting(key: str, default: Any, parse: Callable[[Any], Any], meaning: str, *, standalone: bool = False) -> Any:
    """One setting: the field of ``Settings`` that holds its checked value.

    :param default: what ``app.config`` gets when the key is missing (as it is written there,
        before `parse`).
    :param parse: the raw value -> the typed one; raises ``Invalid`` naming what is expected.
    :param standalone: read by the standalone server only (``create_app``, ``flask-notebook``);
        ``init_app`` adds no default for it to a host's config.
    """
    return field(metadata={"key": key, "default": default, "parse": parse, "meaning": meaning,
                           "standalone": standalone})


MiB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """The checked value of every ``NOTEBOOK_*`` key, read once at start-up."""

    root_dir: str = setting(
        "NOTEBOOK_ROOT_DIR", None, _root_dir, "directory served (default: the current directory).")
    token: str | None = setting(
        "NOTEBOOK_TOKEN", None, _token,
        'the access token. ``None`` generates one (none if a password is set); ``""`` turns token auth off.')
    password: str | None = setting(
        "NOTEBOOK_PASSWORD", None, _optional_text,
        "a hash from ``flask-notebook --hash-password``; enables password login on the login page.")
    secret_key: str | None = setting(
        "NOTEBOOK_SECRET_KEY", None, _secret_key,
        "signs the login cookie (default: the app's ``SECRET_KEY``, else random per process, so logins "
        "end when the process does; with ``NOTEBOOK_PERSIST_KERNELS``, random once and kept in the data "
        "directory, so logins outlive a restart as the kernels do).")
    allow_hidden: bool = setting("NOTEBOOK_ALLOW_HIDDEN", False, _flag, "serve dot-files.")
    hide_globs: tuple[str, ...] = setting(
        "NOTEBOOK_HIDE_GLOBS", ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~"], _strings("glob patterns"),
        "names left out of listings.")
    max_body_size: int = setting(
        "NOTEBOOK_MAX_BODY_SIZE", 512 * MiB, count("bytes"), "request bodies above this many bytes get 413.")
    allow_origin: str = setting(
        "NOTEBOOK_ALLOW_ORIGIN", "", _text, "CORS: an origin allowed to make cookie requests, or ``*``.")
    allow_origin_pat: re.Pattern[str] | None = setting(
        "NOTEBOOK_ALLOW_ORIGIN_PAT", "", _pattern, "CORS: a regular expression of allowed origins.")
    allow_credentials: bool = setting(
        "NOTEBOOK_ALLOW_CREDENTIALS", False, _flag, "CORS: send ``Access-Control-Allow-Credentials: true``.")
    allow_remote_access: bool = setting(
        "NOTEBOOK_ALLOW_REMOTE_ACCESS", True, _flag,
        "when ``False``, only loopback addresses and ``NOTEBOOK_LOCAL_HOSTNAMES`` are accepted as the Host "
        "header (DNS-rebinding guard; the command line turns it on when it binds to loopback).")
    local_hostnames: tuple[str, ...] = setting(
        "NOTEBOOK_LOCAL_HOSTNAMES", ["localhost"], _strings("host names"),
        "host names accepted as local by that check.")
    disable_check_xsrf: bool = setting(
        "NOTEBOOK_DISABLE_CHECK_XSRF", False, _flag, "skip the XSRF check for cookie sessions.")
    cookie_max_age: int = setting(
        "NOTEBOOK_COOKIE_MAX_AGE", 30 * 24 * 3600, count("seconds"), "login cookie lifetime in seconds.")
    default_kernel_name: str = setting(
        "NOTEBOOK_DEFAULT_KERNEL_NAME", "python3", _name, "the default kernelspec.")
    data_dir: str | None = setting(
        "NOTEBOOK_DATA_DIR", None, _path,
        "where notebook signatures and ``/api/config`` sections are kept (default: Jupyter's data dir).")
    database_url: str | None = setting(
        "NOTEBOOK_DATABASE_URL", None, _database_url,
        "the database that keeps sessions, the kernel registry, runs and REST execution records "
        "(a SQLAlchemy URL; ``None``: a SQLite file in the data directory). PostgreSQL "
        "(``postgresql+psycopg://...``) is the store replicas share.")
    persist_kernels: bool = setting(
        "NOTEBOOK_PERSIST_KERNELS", False, _flag,
        "kernels outlive the server: they keep running when it stops (SIGTERM) or dies, and the "
        "next server on the same data directory (or database) re-attaches to those that still answer, "
        "with their sessions. ``False``: no kernel outlives the server.")
    replica_id: str | None = setting(
        "NOTEBOOK_REPLICA_ID", None, _replica_id,
        "this server's name among replicas that share one database (kept in its kernel records): at "
        "start-up it re-attaches only the kernels a server of the same name ran, and local kernels only "
        "on the same host. Stable across restarts, different for each replica (``None``: the host "
        "name; replicas on one host must each set their own).")
    replica_url: str | None = setting(
        "NOTEBOOK_REPLICA_URL", None, _replica_url,
        "where the other replicas reach this one (``http://10.0.0.5:8888``, no path): a gateway kernel "
        "has one holder, the replica whose connection to the gateway serves it, and the others forward "
        "its requests and WebSockets there, so that the gateway keeps for the holder what the kernel "
        "sends if it dies (``None``: replicas do not forward; each opens its own connection).")
    listing_cache: bool = setting(
        "NOTEBOOK_LISTING_CACHE", True, _flag,
        "reuse directory listings until inotify reports a change (Linux, local file systems only).")
    max_kernels: int | None = setting(
        "NOTEBOOK_MAX_KERNELS", None, _optional_count,
        "refuse (403) to start more kernels than this (``None``: no limit).")
    cull_idle_timeout: float = setting(
        "NOTEBOOK_CULL_IDLE_TIMEOUT", 0, seconds(), "shut down kernels idle this many seconds (0: never).")
    cull_interval: float = setting(
        "NOTEBOOK_CULL_INTERVAL", 300, seconds(), "seconds between culling rounds (0: the default).")
    cull_connected: bool = setting(
        "NOTEBOOK_CULL_CONNECTED", False, _flag, "also cull idle kernels that have open WebSockets.")
    cull_busy: bool = setting("NOTEBOOK_CULL_BUSY", False, _flag, "also cull kernels that are busy.")
    kernel_info_timeout: float = setting(
        "NOTEBOOK_KERNEL_INFO_TIMEOUT", 60, seconds(above_zero=True),
        "seconds a restart, and a new WebSocket, wait for the kernel to answer.")
    ws_queue_limit: int = setting(
        "NOTEBOOK_WS_QUEUE_LIMIT", 32 * MiB, count("bytes"),
        "bytes queued for one WebSocket before output is shed (with a notice in the output; replies and "
        "status messages are never shed).")
    ws_replay_limit: int = setting(
        "NOTEBOOK_WS_REPLAY_LIMIT", 16 * MiB, count("bytes"),
        "bytes kept for a disconnected WebSocket, replayed when it reconnects with the same ``session_id`` "
        "(0: no replay).")
    ws_ping_interval: float = setting(
        "NOTEBOOK_WS_PING_INTERVAL", 25, seconds(empty=0),
        "seconds between WebSocket pings (a peer that misses a pong is dropped; 0: no pings).")
    ws_max_message_size: int | None = setting(
        "NOTEBOOK_WS_MAX_MESSAGE_SIZE", 64 * MiB, _message_size,
        "the largest message a client may send, in bytes (0 or ``None``: no limit).")
    ws_compression: bool = setting(
        "NOTEBOOK_WS_COMPRESSION", False, _flag,
        "accept permessage-deflate (it costs CPU on every message and kernel traffic is local).")
    execute_api: bool = setting(
        "NOTEBOOK_EXECUTE_API", True, _flag,
        "serve ``POST /api/execute`` (code run on a throw-away kernel); ``/api/kernels/<id>/execute`` is "
        "always served.")
    execute_record_ttl: float = setting(
        "NOTEBOOK_EXECUTE_RECORD_TTL", 600, seconds(),
        "seconds the record of a finished REST execution is kept for ``GET .../requests/<id>``.")
    execute_timeout: float | None = setting(
        "NOTEBOOK_EXECUTE_TIMEOUT", 1800, _execute_timeout,
        "the ``timeout`` of a REST execution that sets none, in seconds (``0`` or ``None``: none): past it "
        "the request is interrupted and ends with status ``timeout``, also when the kernel hangs.")
    kernel_pool: dict[str, int] = setting(
        "NOTEBOOK_KERNEL_POOL", {}, _kernel_pool,
        'kernels kept started and warm, by kernelspec name, e.g. ``{"python3": 2}``; starting a kernel or '
        "session takes one at once. They count toward ``NOTEBOOK_MAX_KERNELS``.")
    kernel_pool_seed: str = setting(
        "NOTEBOOK_KERNEL_POOL_SEED", "", _code,
        "code run in each pooled kernel before it is handed out (e.g. imports); a kernel whose seed "
        "fails is discarded.")
    autosave_interval: float = setting(
        "NOTEBOOK_AUTOSAVE_INTERVAL", 120, seconds(),
        "seconds between the editor's autosaves of a changed notebook or text file (``0``: no autosave).")
    terminals_enabled: bool = setting(
        "NOTEBOOK_TERMINALS", True, _flag,
        "serve terminals (``/api/terminals``, their WebSocket and page, the file browser's New Terminal); a "
        "terminal is a shell of its user, in the same sandbox and workspace as that user's kernels. When "
        "``False`` those URLs are 404. (The old name ``NOTEBOOK_TERMINALS_ENABLED`` still works, deprecated.)")
    terminals_cull_timeout: float = setting(
        "NOTEBOOK_TERMINALS_CULL_TIMEOUT", 0, seconds(),
        "end terminals with no input or output for this many seconds (``0``: never), checked every "
        "``NOTEBOOK_CULL_INTERVAL`` seconds (jupyter_server_terminals' ``cull_inactive_timeout``).")
    users_file: str | None = setting(
        "NOTEBOOK_USERS_FILE", None, _path,
        "a file of users (name, scrypt hash, roles) who log in with their own passwords, managed with "
        "``flask-notebook user add|remove|passwd``; re-read when it changes.")
    user_root: str | Callable[..., Any] | None = setting(
        "NOTEBOOK_USER_ROOT", None, _user_root,
        "each user's own root: a path template with ``{username}`` (``/srv/notebooks/{username}``) or, "
        "embedded, a callable ``(user) -> path``; created on first use with mode 0700. Unset: one shared root.")
    shared_dirs: dict[str, str] = setting(
        "NOTEBOOK_SHARED_DIRS", {}, _shared_dirs,
        'folders every user sees read-only in their tree, by name: ``{"data": "/srv/data"}``.')
    kernel_sandbox: str | None = setting(
        "NOTEBOOK_KERNEL_SANDBOX", None, _sandbox,
        '``"bubblewrap"`` or ``"none"``: how kernels are confined (unset: bubblewrap when '
        "``NOTEBOOK_USER_ROOT`` is set, else none).")
    kernel_env: dict[str, str] = setting(
        "NOTEBOOK_KERNEL_ENV", {}, _env_additions,
        "variables added to a sandboxed kernel's environment (which is otherwise built from an allow-list).")
    kernel_network: bool = setting(
        "NOTEBOOK_KERNEL_NETWORK", True, _flag,
        "``False`` cuts sandboxed kernels off the network (they reach the server over IPC sockets).")
    max_kernels_per_user: int | None = setting(
        "NOTEBOOK_MAX_KERNELS_PER_USER", None, _optional_count,
        "kernels one user may hold at once (``None``: no limit), counted when a start is requested.")
    kernel_memory_limit: int | None = setting(
        "NOTEBOOK_KERNEL_MEMORY_LIMIT", None, _memory_limit,
        'memory per kernel, in bytes or with a unit (``"256MiB"``): a cgroup where the server can make '
        "one, else ``RLIMIT_AS``.")
    kernel_cpu_limit: float | None = setting(
        "NOTEBOOK_KERNEL_CPU_LIMIT", None, _cpu_limit, "CPUs per kernel (fractional, e.g. ``0.5``), by cgroup.")
    execute_rate_limit: Rate | None = setting(
        "NOTEBOOK_EXECUTE_RATE_LIMIT", None, _rate,
        'REST executions per user, e.g. ``"60/minute"``: past it, 429 with ``Retry-After``.')
    audit_log: str | None = setting(
        "NOTEBOOK_AUDIT_LOG", None, _audit_log,
        'where the audit trail goes, one JSON line per action: a file, or ``"logger:<name>"``.')
    audit_code: str = setting(
        "NOTEBOOK_AUDIT_CODE", "hash", _audit_code,
        'code executed, in audit lines: ``"full"``, ``"hash"`` (its SHA-256) or ``"none"``.')
    run_history: RunHistory = setting(
        "NOTEBOOK_RUN_HISTORY", {"count": 1000, "age": 30 * 86400}, _run_history,
        "finished runs kept (in the data directory, across restarts): at most ``count``, none older "
        "than ``age`` seconds.")
    max_concurrent_runs: int = setting(
        "NOTEBOOK_MAX_CONCURRENT_RUNS", 4, count("runs", above_zero=True),
        "runs executing at once across kernels (runs of one kernel always go one after another).")
    run_save_interval: float = setting(
        "NOTEBOOK_RUN_SAVE_INTERVAL", 1, seconds(above_zero=True),
        "seconds between a run's saves of the outputs so far (and at each cell's end).")
    run_max_output_bytes: int = setting(
        "NOTEBOOK_RUN_MAX_OUTPUT_BYTES", 10 * MiB, count("bytes", above_zero=True),
        "a cell's outputs a run saves in the file, in bytes; past it they are cut, with a notice "
        "(the live stream is not cut).")
    run_input_timeout: float = setting(
        "NOTEBOOK_RUN_INPUT_TIMEOUT", 300, seconds(above_zero=True),
        "seconds a run's ``input()`` waits for an answer before the cell fails.")
    metrics: bool = setting(
        "NOTEBOOK_METRICS", True, _flag,
        "serve Prometheus metrics at ``/metrics`` (under the base URL), to administrators and to "
        "``NOTEBOOK_METRICS_TOKEN``; ``False``: that URL is 404.")
    metrics_token: str | None = setting(
        "NOTEBOOK_METRICS_TOKEN", None, _optional_text,
        "a token that opens ``/metrics`` only (``Authorization: Bearer <token>`` or ``?token=``), for a "
        "Prometheus scraper that should not hold the server's token; ``None``: the API's auth only.")
    gateway_url: str | None = setting(
        "NOTEBOOK_GATEWAY_URL", None, _gateway_url,
        "a Jupyter Enterprise Gateway or Kernel Gateway: kernelspecs, kernels and their channels are "
        "its, not local processes (unset: local kernels).")
    gateway_token: str | None = setting(
        "NOTEBOOK_GATEWAY_TOKEN", None, _optional_text,
        "the gateway's auth token, sent as ``Authorization: token <t>``.")
    gateway_headers: dict[str, str] = setting(
        "NOTEBOOK_GATEWAY_HEADERS", {}, _gateway_headers,
        "more HTTP headers sent on every gateway request and WebSocket (a JSON object).")
    gateway_validate_cert: bool = setting(
        "NOTEBOOK_GATEWAY_VALIDATE_CERT", True, _flag, "check the gateway's TLS certificate (https).")
    gateway_ca_certs: str | None = setting(
        "NOTEBOOK_GATEWAY_CA_CERTS", None, _file,
        "a PEM file of the CAs that sign the gateway's certificate (unset: the system's).")
    gateway_client_cert: str | None = setting(
        "NOTEBOOK_GATEWAY_CLIENT_CERT", None, _file, "a PEM client certificate for the gateway (mutual TLS).")
    gateway_client_key: str | None = setting(
        "NOTEBOOK_GATEWAY_CLIENT_KEY", None, _file,
        "the client certificate's key (unset: in ``NOTEBOOK_GATEWAY_CLIENT_CERT``).")
    gateway_connect_timeout: float = setting(
        "NOTEBOOK_GATEWAY_CONNECT_TIMEOUT", 40, seconds(above_zero=True),
        "seconds to connect to the gateway.")
    gateway_request_timeout: float = setting(
        "NOTEBOOK_GATEWAY_REQUEST_TIMEOUT", 42, seconds(above_zero=True),
        "seconds a gateway request may take, a kernel start included (``KERNEL_LAUNCH_TIMEOUT`` is 2 s less).")
    gateway_kernel_env: frozenset[str] = setting(
        "NOTEBOOK_GATEWAY_KERNEL_ENV", [], _env_names,
        'variables clients may set for a kernel (``"env"`` of ``POST /api/kernels``, ``kernel.env`` of a '
        "session), e.g. ``[\"KERNEL_NAMESPACE\"]``; each value at most 1024 characters, no control characters.")
    base_url: str = setting(
        "NOTEBOOK_BASE_URL", "/", _text, "the URL prefix of every route (``--base-url``).", standalone=True)
    trust_proxy: int = setting(
        "NOTEBOOK_TRUST_PROXY", 0, _proxy_hops,
        "believe the ``X-Forwarded-For``, ``-Proto``, ``-Host`` and ``-Prefix`` headers of this many reverse "
        "proxies (werkzeug's ``ProxyFix``; ``true`` is 1).", standalone=True)
    http_idle_timeout: float = setting(
        "NOTEBOOK_HTTP_IDLE_TIMEOUT", 60, seconds(above_zero=True),
        "seconds a connection may take to send a request's head, stay idle between requests, or pause "
        "while sending a body.", standalone=True)
    max_connections: int | None = setting(
        "NOTEBOOK_MAX_CONNECTIONS", None, _max_connections,
        "connections served at once (default: derived from the open-file limit).", standalone=True)

    @property
    def sandbox(self) -> str:
        """The kernel sandbox in force: ``"bubblewrap"`` or ``"none"``."""
        if self.kernel_sandbox is not None:
            return self.kernel_sandbox
        return "bubblewrap" if self.user_root is not None else "none"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Every setting from `config` (its default where the key is missing), checked.

        :raises ValueError: one line naming the first bad key, its value and what it must be
            (or that ``NOTEBOOK_ROOT_DIR`` is not a directory).
        """
        values = {}
        for definition in DEFINITIONS:
            raw = config.get(definition.key, definition.default)
            try:
                values[definition.name] = definition.parse(raw)
            except Invalid as exc:
                raise invalid(definition.key, raw, exc.expected) from None
        return cls(**values)


#: Old keys still read, deprecated, each for its new key: a config that sets only the old key
#: gets its value under the new one (with a warning, once a process); one that sets both to
#: different values stops at start-up naming both.
ALIASES: dict[str, str] = {"NOTEBOOK_TERMINALS_ENABLED": "NOTEBOOK_TERMINALS"}
_warned: set[str] = set()


def apply_aliases(config: MutableMapping[str, Any]) -> None:
    """Move each deprecated key's value in `config` to its new key, before defaults are added.

    :raises ValueError: a deprecated key's value is unusable (naming that key), or it and its
        new key are both set to different values.
    """
    for old, new in ALIASES.items():
        if old not in config:
            continue
        value = parse(new, config[old], key_given=old)
        if new in config and parse(new, config[new]) != value:
            raise ValueError(f"{old} (deprecated) and {new} are both set, to different values "
                             f"({config[old]!r} and {config[new]!r}): set only {new}")
        config[new] = config[new] if new in config else config[old]
        if old not in _warned:
            _warned.add(old)
            log.warning("%s is deprecated: set %s instead", old, new)


class Definition(NamedTuple):
    """One setting as ``Settings`` declares it."""

    key: str
    name: str
    default: Any
    parse: Callable[[Any], Any]
    meaning: str
    standalone: bool


#: Every setting, in the order ``Settings`` declares them.
DEFINITIONS: tuple[Definition, ...] = tuple(
    Definition(f.metadata["key"], f.name, f.metadata["default"], f.metadata["parse"], f.metadata["meaning"],
               f.metadata["standalone"])
    for f in fields(Settings))
BY_KEY: dict[str, Definition] = {definition.key: definition for definition in DEFINITIONS}


def parse(key: str, value: Any, *, key_given: str | None = None) -> Any:
    """`value` checked as `key`'s (for a server that reads one key before the app exists).

    :param key_given: the key the value was given under, if not `key` (a deprecated alias):
        the one an error names.
    :raises ValueError: as ``Settings.from_config``.
    """
    try:
        return BY_KEY[key].parse(value)
    except Invalid as exc:
        raise invalid(key_given or key, value, exc.expected) from None


def from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``NOTEBOOK_*`` variables of `environ` as config values. Booleans, numbers, lists and
    mappings are JSON (as Flask's ``from_prefixed_env`` reads them); the value of a key whose
    default is a string or None stays a string, so a token of digits is not made a number."""
    config: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith("NOTEBOOK_"):
            continue
        definition = BY_KEY.get(ALIASES.get(key, key))
        config[key] = value
        if definition is not None and not (definition.default is None or isinstance(definition.default, str)):
            try:
                config[key] = json.loads(value)
            except ValueError:
                pass  # not JSON: the setting's check says what it must be
    return config


def describe(*, standalone: bool = False) -> str:
    """The reST list of keys, with their meanings, for ``init_app``'s docstring."""
    return "\n".join(textwrap.fill(f"- ``{d.key}``: {d.meaning}", width=88, subsequent_indent="  ")
                     for d in DEFINITIONS if d.standalone == standalone)
