"""flask-notebook with timestamps at the relay's two doors, for bench/load.py --probe.

    python bench/relay_probe.py OUTPUT -- [flask-notebook arguments]

Runs ``python -m flask_notebook`` with two of the relay's methods wrapped (in this process
only; the code shipped is unchanged): ``KernelChannels.send`` (a client's message leaves for
the kernel: when the relay got it and when the ZMQ send returned) and
``KernelChannels._dispatch`` (a kernel's message read from ZMQ and handed to its
connection: when, and when the write returned), for execute requests, their replies and
their busy/idle statuses. Each record is one JSON line in OUTPUT:
``[msg_id, what, t_start, t_end]`` with `time.time()` seconds; written in batches and at exit.
The wrapping costs a few microseconds per message.
"""

from gevent import monkey

monkey.patch_all()

import atexit  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import orjson  # noqa: E402

from flask_notebook import cli  # noqa: E402
from flask_notebook.core import channels  # noqa: E402
from flask_notebook.transport import server_socket  # noqa: E402

_out = open(sys.argv[1], "ab")  # noqa: SIM115 - closed at exit
_records: list[bytes] = []


def _flush() -> None:
    if _records:
        _out.write(b"".join(_records))
        _out.flush()
        _records.clear()


def _record(msg_id: Any, what: str, *times: float) -> None:
    _records.append(orjson.dumps([msg_id, what, *times]) + b"\n")
    if len(_records) >= 2000:
        _flush()


_send = channels.KernelChannels.send
_dispatch = channels.KernelChannels._dispatch
_read_parked = server_socket.ServerSocket._read_parked
#: When the reader of a WebSocket started reading it: (the event loop's iteration began, now).
_reading = (0.0, 0.0)


def read_parked(self: Any) -> None:
    global _reading
    _reading = (gevent.get_hub().loop.now(), time.time())
    _read_parked(self)


def send(self: Any, session_id: str, channel: str, parts: list[bytes], header: dict[str, Any]) -> None:
    t0 = time.time()
    _send(self, session_id, channel, parts, header)
    if header.get("msg_type") == "execute_request":
        _record(header.get("msg_id"), "request", t0, time.time(), *_reading)


def dispatch(self: Any, msg: Any) -> None:
    t0 = time.time()
    _dispatch(self, msg)
    what = None
    if msg.msg_type == "execute_reply":
        what = "reply"
    elif msg.msg_type == "status" and msg.parent.get("msg_type") == "execute_request":
        what = msg.content().get("execution_state")
    if what is not None:
        _record(msg.parent_msg_id, what, t0, time.time(), gevent.get_hub().loop.now())


channels.KernelChannels.send = send  # type: ignore[method-assign]
channels.KernelChannels._dispatch = dispatch  # type: ignore[method-assign]
server_socket.ServerSocket._read_parked = read_parked  # type: ignore[method-assign]
atexit.register(_flush)

#: Per event-loop iteration (from the poll's return to the next poll): wall and CPU seconds.
_iterations: list[tuple[float, float]] = []
_cpu_at_wake = [0.0]


def _iteration_report() -> None:
    if not _iterations:
        return
    _iterations[:], its = [], list(_iterations)
    walls = sorted(w for w, _ in its)
    cpus = sorted(c for _, c in its)
    n = len(walls)
    _out.write(orjson.dumps(["-", "iterations", n, sum(walls), sum(cpus), walls[n // 2], walls[n * 99 // 100],
                             cpus[n // 2], cpus[n * 99 // 100], walls[-1], cpus[-1]]) + b"\n")
    _out.flush()


def _start_iteration_watch() -> None:
    loop = gevent.get_hub().loop
    prepare = loop.prepare()
    check = loop.check()

    def before_poll() -> None:  # the iteration that began at the last poll's return ends
        now, cpu = time.time(), time.thread_time()
        if _cpu_at_wake[0]:
            _iterations.append((now - loop.now(), cpu - _cpu_at_wake[0]))

    def after_poll() -> None:
        _cpu_at_wake[0] = time.thread_time()

    prepare.start(before_poll)
    check.start(after_poll)
    _watchers.extend((prepare, check))


_watchers: list[Any] = []
atexit.register(_iteration_report)
gevent.spawn_later(1, _start_iteration_watch)

if __name__ == "__main__":
    argv = sys.argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    try:
        code = cli.main(argv)
    finally:
        _flush()
        _iteration_report()
    raise SystemExit(code)
