"""The open-file limit and the connection limits of our server processes: the
``flask-notebook`` command's (``cli``) and gunicorn.conf.py's.

Standard library only (with ``settings``, which is too), so that gunicorn.conf.py can import
it in gunicorn's arbiter, where nothing of the app is loaded.
"""

from __future__ import annotations

import resource
from typing import Any

from . import settings

#: Descriptors the server holds whatever it serves: the listening socket, the event loop,
#: ZMQ's context, log files, inotify, the thread pool, a spare kept for refusing
#: connections when the rest run out, and some slack.
SERVER_DESCRIPTORS = 64

#: What one kernel costs the server in descriptors, measured (open descriptors of the server
#: with 1, 2, 3 and 4 kernels: 30, 45, 60, 75): its five held ports, its relay's five ZMQ
#: sockets and ZMQ's own, the child's pidfd. The first kernel costs six more (ZMQ's context).
KERNEL_DESCRIPTORS = 15


def raise_open_file_limit() -> tuple[int, int]:
    """Raise this process's soft ``RLIMIT_NOFILE`` to its hard limit, as far as the system
    lets it; returns the limit before and after. Children (kernels, terminals) inherit it.

    jupyter_server raises it to 4096 at most (``min_open_files_limit``); every kernel
    WebSocket and every kernel costs the server descriptors, so ours takes what it may.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:  # Linux refuses an infinite RLIMIT_NOFILE: try 2**20
        target = max(soft, 1 << 20) if soft != resource.RLIM_INFINITY else soft
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, soft
        return soft, target
    return soft, soft


def default_max_connections(nofile: int) -> int:
    """The connection limit derived from the open-file limit `nofile`: half of what is left
    once the server's own ``SERVER_DESCRIPTORS`` are set aside. The other half is for
    kernels (``KERNEL_DESCRIPTORS`` each), terminals (one or two each) and open files.

    With the common limit of 1024: 480 connections, and room for about 30 kernels; with
    256: 96, and room for 5. Connections past the limit waiting for a slot (an eighth more
    at most, see ``max_waiting``) come out of the kernels' half.
    """
    return max(1, (nofile - SERVER_DESCRIPTORS) // 2)


def max_waiting(max_connections: int) -> int:
    """How many connections past the limit may wait for a slot at once (each holds a
    descriptor); the rest wait in the listening socket's backlog, which costs none."""
    return max(4, min(256, max_connections // 8))


def idle_timeout(value: Any) -> float:
    """``NOTEBOOK_HTTP_IDLE_TIMEOUT`` in seconds (``settings`` defines it).

    :raises ValueError: not a number of seconds above 0.
    """
    seconds: float = settings.parse("NOTEBOOK_HTTP_IDLE_TIMEOUT", value)
    return seconds


def max_connections(value: Any) -> int | None:
    """``NOTEBOOK_MAX_CONNECTIONS``: a count, or None to derive it from the open-file limit
    (``settings`` defines it).

    :raises ValueError: neither empty nor a whole number above 0.
    """
    count: int | None = settings.parse("NOTEBOOK_MAX_CONNECTIONS", value)
    return count
