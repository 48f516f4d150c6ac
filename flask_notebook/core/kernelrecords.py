"""The kernel registry's records in the store (``kernels`` table): what a later server, or
another replica, needs to re-attach to a kernel (``kernels.KernelRegistry.adopt``), who wrote
each, and which kernels a server may take."""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import gevent
from gevent import socket as gsocket
from gevent.event import Event
from gevent.queue import Queue

from .paths import iso_utc
from .spawn import process_start
from .store import Store, kernels_table

if TYPE_CHECKING:
    from .kernels import Kernel

log = logging.getLogger(__name__)


#: This host, in kernel records: only a server on the host where a kernel runs re-attaches it.
HOST = socket.gethostname()
#: This process's start (``spawn.process_start``), in its kernel records: with the writer's
#: pid, what tells a server still running from one that has stopped (`writer_alive`).
WRITER_START = process_start(os.getpid())


class KernelRecords:
    """The kernel registry's rows in the store (``kernels`` table): a kernel's record is put
    when it is launched and each time its process changes (restarts), and deleted when it is
    shut down, culled, discarded or declared dead.

    Writes are queued, in order, to one greenlet that builds each record (under
    ``kernels.LIFECYCLE``'s lock: the provisioner's ``get_provisioner_info``) and hands it to the
    store's writer thread: a kernel start never waits for the database.

    A record holds the kernel's connection info, its HMAC key included: whoever reads the
    database can talk to the kernel. The default SQLite file is 0600 in a 0700 folder
    (``store.default_url``); a shared database must be guarded as the connection files are.
    """

    def __init__(self, store: Store, *, replica: str | None = None, url: str | None = None) -> None:
        self.store = store
        #: This server's name among replicas (``NOTEBOOK_REPLICA_ID``; the host name by default),
        #: in every record it writes: a server re-attaches at start-up only its own name's.
        self.replica = replica or HOST
        #: Where other replicas reach this one (``NOTEBOOK_REPLICA_URL``), in its records: they
        #: forward the requests for the gateway kernels it holds there (`holder_url`).
        self.url = url
        self._queue: Queue[tuple[str, Kernel | str]] = Queue()
        self._pending = 0
        self._idle = Event()
        self._idle.set()
        self._worker: Any = None
        self._current: str | None = None

    def put(self, kernel: Kernel) -> None:
        self._push("put", kernel)

    def delete(self, kernel_id: str) -> None:
        self._push("delete", kernel_id)

    def _push(self, op: str, item: Kernel | str) -> None:
        self._pending += 1
        self._idle.clear()
        self._queue.put((op, item))
        if self._worker is None or self._worker.dead:
            self._worker = gevent.spawn(self._work)

    def take_over(self, record: dict[str, Any]) -> bool:
        """Make this replica the holder of `record`'s kernel in the store, if the record still
        names the holder it named when read (the writer process too): whether it does now. Of
        replicas that find a holder dead at once, one takes its kernel; the others forward to it.

        :raises Exception: the store failed (logged by the caller).
        """
        return self.store.update_if(kernels_table, str(record["id"]),
                                    {"replica": record.get("replica"), "writer": record.get("writer")},
                                    {"replica": self.replica, "url": self.url, "host": HOST, "writer": os.getpid(),
                                     "writer_start": WRITER_START})

    def queued(self) -> set[str]:
        """The ids of the kernels whose record is yet to be written."""
        return {item.id for op, item in list(self._queue.queue) if not isinstance(item, str)} | \
            ({self._current} if self._current else set())

    def flush(self, timeout: float = 10) -> bool:
        """Wait until every queued write is done (or `timeout`); whether it is."""
        return bool(self._idle.wait(timeout))

    def _work(self) -> None:
        while self._pending:
            op, item = self._queue.get()
            self._current = None if isinstance(item, str) else item.id
            try:
                if isinstance(item, str):
                    self.store.delete(kernels_table, item)
                else:
                    record = kernel_record(item, self.replica, self.url)
                    if record is not None:
                        self.store.put(kernels_table, item.id, record)
            except Exception:
                log.exception("the kernel record of %s could not be written", getattr(item, "id", item))
            finally:
                self._current = None
                self._pending -= 1
                if not self._pending:
                    self._idle.set()


def kernel_record(kernel: Kernel, replica: str = HOST, url: str | None = None) -> dict[str, Any] | None:
    """What another server needs to re-attach to `kernel` (see ``KernelRegistry.adopt``), or
    None once it has no process."""
    km = kernel.km
    if km.provisioner is None or not km.has_kernel:
        return None
    info = _jsonable(kernel.provisioner_info())
    connection = {name: value.decode() if isinstance(value, bytes) else value
                  for name, value in km.get_connection_info(session=False).items()}
    return {"id": kernel.id, "name": kernel.name, "owner": kernel.owner, "cwd": kernel.cwd,
            "env": kernel.launch_env, "listed": kernel.listed, "launched": kernel.launched, "host": HOST,
            "replica": replica, "url": url, "writer": os.getpid(), "writer_start": WRITER_START,
            "connection_file": km.connection_file, "connection_info": connection, "provisioner": info}


def _jsonable(value: Any) -> Any:
    """`value` with bytes as text (a provisioner's info may hold its connection key as bytes;
    jupyter_client takes either back)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def writer_alive(record: dict[str, Any]) -> bool:
    """Whether the server process that wrote `record` still runs on this host (not this one):
    another server of the same root, data directory and replica name, serving its kernels
    now. (Its pid with its start time: a pid reused since is no such server.)"""
    writer = record.get("writer")
    if not isinstance(writer, int) or writer == os.getpid() or record.get("host") != HOST:
        return False
    started = process_start(writer)
    return started is not None and record.get("writer_start") in (None, started)


def record_replica(record: dict[str, Any]) -> str:
    """The replica that wrote `record` (records written before replicas had names: its host)."""
    return str(record.get("replica") or record.get("host") or "")


class HeldElsewhere(Exception):
    """`thing` (``"kernel <id>"``, ``"run <id>"``) is held by the replica `replica`, which
    answers at `url` (``KernelRegistry.claim``, ``Runs.get``): the request for it is forwarded
    there."""

    def __init__(self, thing: str, url: str, replica: str) -> None:
        super().__init__(f"{thing} is held by replica {replica} ({url})")
        self.thing, self.url, self.replica = thing, url, replica


#: Seconds a replica's holder has to accept a connection before it is taken for dead.
HOLDER_CONNECT_TIMEOUT = 3.0


def reachable(url: str, timeout: float = HOLDER_CONNECT_TIMEOUT) -> bool:
    """Whether a server accepts connections at `url` (``NOTEBOOK_REPLICA_URL``'s form): a
    replica whose process is gone refuses them at once; one whose host is gone, after
    `timeout`."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        sock = gsocket.create_connection((parts.hostname or "", port), timeout=timeout)
    except OSError:
        return False
    sock.close()
    return True


def holder_url(record: dict[str, Any], replica: str) -> str | None:
    """Where to forward the requests for `record`'s gateway kernel, from the replica named
    `replica`: its holder's address, when that is another replica that has one
    (``NOTEBOOK_REPLICA_URL``); None when this replica serves it itself."""
    url = record.get("url")
    if not is_shared(record) or not isinstance(url, str) or not url or record_replica(record) == replica:
        return None
    return url


def is_shared(record: dict[str, Any]) -> bool:
    """Whether `record` is of a gateway kernel: one any replica can serve (its channels are the
    gateway's), not a process on the host of the replica that started it."""
    info = record.get("provisioner")
    return isinstance(info, dict) and isinstance(info.get("remote_id"), str)


def adoptable_here(record: dict[str, Any], replica: str) -> bool:
    """Whether the server named `replica` re-attaches `record`'s kernel at start-up: one its
    own name's predecessor ran, and, for a local kernel, on this host (a replica's local
    kernels are never another's, even on one host)."""
    return record_replica(record) == replica and (is_shared(record) or record.get("host") == HOST)


class Listed:
    """A gateway kernel that another replica holds and this one has not adopted, as its record
    tells it (``KernelRegistry.listing``): what the kernel list shows of it, without opening a
    WebSocket to the gateway for it. Its state is unknown here (``"unknown"``); its activity is
    its launch time. (The web layer asks its holder, at `url`, for the rest: ``forward``.)"""

    def __init__(self, record: dict[str, Any]) -> None:
        self.id = str(record["id"])
        self.name = str(record.get("name") or "")
        self.owner: str | None = record.get("owner")
        self.launched = float(record.get("launched") or 0)
        self.connections = 0
        url = record.get("url")
        #: Its holder's address (``NOTEBOOK_REPLICA_URL``), if it has one.
        self.url: str | None = url if isinstance(url, str) and url else None

    def model(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "last_activity": iso_utc(self.launched),
                "execution_state": "unknown", "connections": 0}
