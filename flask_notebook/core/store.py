"""The embedded store: what must outlive the process, in a database.

Sessions, the kernel registry's records (id, kernelspec, connection info, owner, working
directory, launch time), runs and REST execution records are kept here, so that a server
started again on the same data directory (or another replica on the same database) finds
them. The database is SQLite in the data directory unless ``NOTEBOOK_DATABASE_URL`` names
another (any SQLAlchemy URL; PostgreSQL is the supported shared store).

- **Schema versions.** `MIGRATIONS` is the ordered list of steps from an empty database to
  the current schema; the database's ``flask_notebook_schema`` table holds how many were
  applied. `Store.migrate` applies the missing ones, each in its own transaction, under a lock
  (PostgreSQL: an advisory lock; SQLite: ``BEGIN IMMEDIATE``), so replicas that start at once
  do not apply a step twice. A database newer than this code (more steps applied than it
  knows) is refused at start-up rather than written with an older idea of the schema. A step,
  once released, is never edited: changes are new steps.
- **Off the event loop.** Every statement runs in a thread: writes in one writer thread, in
  the order they were asked for (a session's insert cannot overtake its delete), reads in a
  small pool of their own. The calling greenlet waits; the hub serves others meanwhile.
  Without gevent's patching (the Flask test client, a threaded server) calls run inline.
- Rows hold the record as JSON (``record``) beside the few columns that are queried, so a
  record can gain fields without a migration.

No web library here; SQLAlchemy Core only (no ORM: the records are plain dicts).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from urllib.parse import unquote
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
import gevent
from gevent import monkey
from gevent.event import AsyncResult
from gevent.threadpool import ThreadPool
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Called with an operation's name (``"write"``, ``"read"``) and its duration in seconds
#: (the metrics' database latency).
Timing = Callable[[str, float], None]

class _Pools:
    """A thread pool made when first needed, shared by every store of the process: one
    writer thread keeps writes in order, and apps that come and go (tests make hundreds) do not
    each leave threads behind. None without gevent's patching: statements then run inline."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pool: ThreadPool | None = None

    def get(self) -> ThreadPool | None:
        if not monkey.is_module_patched("threading"):
            return None
        if self.pool is None:
            self.pool = ThreadPool(self.size)
        return self.pool


#: (ok, value or exception, seconds): what a job on the writer thread gives back.
Outcome = tuple[bool, Any, float]


class _Writer:
    """The one thread that runs every write of the process, in the order they are asked for.

    A queue of its own rather than a thread pool of one: gevent's pool makes a caller wait
    for a free worker before it queues anything, so a write that is meant not to be waited
    for (`Store.write_later`) would wait for the one before it. Outcomes come back to the
    hub through an ``async`` watcher (libev's thread-safe wake-up), made before the job is
    queued. None of this without gevent's patching: writes then run inline."""

    def __init__(self) -> None:
        self._queue: Any = None
        self._pid = 0  # of the process whose thread serves `_queue` (a fork has none)

    def available(self) -> bool:
        if not monkey.is_module_patched("threading"):
            return False
        if self._queue is None or self._pid != os.getpid():
            self._queue = monkey.get_original("queue", "SimpleQueue")()
            self._pid = os.getpid()
            monkey.get_original("_thread", "start_new_thread")(self._work, (self._queue,))
        return True

    @staticmethod
    def _work(queue: Any) -> None:
        while True:
            queue.get()()

    def submit(self, job: Callable[[], Outcome], done: Callable[[Outcome], None]) -> None:
        """Queue `job`; `done` gets its outcome, called in the hub."""
        watcher = gevent.get_hub().loop.async_()
        box: list[Outcome] = []

        def delivered() -> None:
            watcher.close()
            done(box[0])

        def run() -> None:
            try:
                box.append(job())
            except BaseException as exc:  # the thread must go on, and the caller hear of it
                box.append((False, exc, 0.0))
            watcher.send()

        watcher.start(delivered)
        self._queue.put(run)

    def call(self, job: Callable[[], Outcome]) -> Outcome:
        """`job`'s outcome, once the writes queued before it and it are done."""
        result: AsyncResult = AsyncResult()
        self.submit(job, result.set)
        outcome: Outcome = result.get()
        return outcome


_WRITER = _Writer()
_READERS = _Pools(4)

# -- the schema ---------------------------------------------------------------------------------
# Tables as of the latest step, for the queries. The steps below create and change them; a
# table's definition here must match what the steps make.

metadata = sa.MetaData()

schema_table = sa.Table(
    "flask_notebook_schema", metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # always 1: one row
    sa.Column("version", sa.Integer, nullable=False),
)

#: The kernel registry: one row per listed kernel. ``record`` holds the kernelspec name,
#: connection info, provisioner info, owner, cwd and launch time (``kernels.KernelRecord``).
kernels_table = sa.Table(
    "kernels", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("server", sa.String(64), nullable=False),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)

sessions_table = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("server", sa.String(64), nullable=False),
    sa.Column("kernel_id", sa.String(64), nullable=False, index=True),
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)

runs_table = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("server", sa.String(64), nullable=False),
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("created", sa.Float, nullable=False, index=True),
    sa.Column("record", sa.Text, nullable=False),
)

executions_table = sa.Table(
    "executions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("server", sa.String(64), nullable=False),
    sa.Column("kernel_id", sa.String(64), nullable=False, index=True),
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("created", sa.Float, nullable=False, index=True),
    sa.Column("record", sa.Text, nullable=False),
)


def _step_1(conn: Connection) -> None:
    """The first schema: kernels, sessions, runs, executions."""
    step = sa.MetaData()
    for table in (kernels_table, sessions_table, runs_table, executions_table):
        table.to_metadata(step)
    step.create_all(conn)


#: Every schema step, in order: `Store.migrate` applies those a database has not had.
MIGRATIONS: Sequence[Callable[[Connection], None]] = (_step_1,)


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer flask-notebook than this one."""


def server_name(root_dir: str) -> str:
    """The name of the server of `root_dir` in the rows it writes: a digest of the root's real
    path (as its config sections are named). Replicas of one root share their rows in one
    database; servers of other roots do not see them."""
    return hashlib.sha256(os.path.realpath(root_dir).encode("utf-8", "surrogateescape")).hexdigest()[:24]


def default_url(data_dir: str, root_dir: str) -> str:
    """The SQLite file of the server of `root_dir` under `data_dir` (the folder is made)."""
    folder = os.path.join(data_dir, "flask_notebook", "state")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    path = os.path.join(folder, f"{server_name(root_dir)}.sqlite")
    # 0600 from its first byte: the kernel records hold each kernel's connection key (SQLite
    # gives its -wal and -shm files the database file's mode).
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return "sqlite:///" + path


#: Query parameters of a database URL whose values are hidden in logs and errors.
_SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|key", re.IGNORECASE)


def redacted(url: str) -> str:
    """`url` with its password hidden, for logs and errors: the one before ``@`` and any query
    parameter that names one (``?password=``, ``sslpassword``...)."""
    try:
        parsed = sa.engine.make_url(url)
        hidden = {name: "***" if _SECRET_PARAMETER.search(name) else value for name, value in parsed.query.items()}
        return unquote(parsed.set(query=hidden).render_as_string(hide_password=True))
    except Exception:
        return "<unparsable database URL>"


def _dumps(record: dict[str, Any]) -> str:
    return orjson.dumps(record).decode()


class Store:
    """One database: its engine, its schema, and the threads its statements run in.

    :param url: a SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``).
    :param server: this server's name in the rows it writes (``server`` columns): the data
        directory's server, or a replica's shared name. Rows are filtered by it.
    :param timing: told every statement's duration (see `Timing`).
    :raises ValueError: the URL is unusable (its driver is not installed, it cannot be parsed).
    """

    def __init__(self, url: str, *, server: str = "default", timing: Timing | None = None) -> None:
        self.url = url
        self.server = server
        self.timing = timing
        try:
            parsed = sa.engine.make_url(url)
        except (sa.exc.ArgumentError, ValueError):
            # Neither message is shown: SQLAlchemy's repeats the URL, password included, and a
            # bad port's is int()'s ("invalid literal ... ':1'" for an unbracketed IPv6 host).
            raise ValueError("cannot be parsed as a database URL (is its port a number? an IPv6 host goes in "
                             "brackets: postgresql+psycopg://user:password@[::1]:5432/db); the value is not "
                             "shown: it may hold a password") from None
        self.dialect = parsed.get_backend_name()
        options: dict[str, Any] = {"pool_pre_ping": True}
        if self.dialect == "sqlite":
            # A connection per use (opening a SQLite file takes microseconds): an app that is
            # dropped without `close` (tests make hundreds) holds no file open.
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
            options["poolclass"] = sa.pool.NullPool
        try:
            self.engine: Engine = sa.create_engine(parsed, **options)
        except (ImportError, sa.exc.NoSuchModuleError) as exc:
            raise ValueError(f"{redacted(url)} needs a database driver that is not installed ({exc})") from None
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        self._closed = False

    # -- running statements -------------------------------------------------------------------

    def write(self, fn: Callable[[Connection], T]) -> T:
        """``fn(connection)`` in a transaction, on the writer thread, after every write asked
        for before it; committed when it returns, rolled back when it raises."""
        if self._closed or not _WRITER.available():
            return self._run(None, "write", self._in_transaction, fn)
        ok, value, seconds = _WRITER.call(lambda: _timed(self._in_transaction, fn))
        if self.timing is not None:
            self.timing("write", seconds)
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def write_later(self, fn: Callable[[Connection], object], *, what: str) -> None:
        """``fn(connection)`` as `write` runs it (after the writes asked for before it), but
        queued without waiting for it: for a write on a hot path whose outcome the caller does
        not need. A failure is logged as a warning naming `what`; nothing else reports it."""
        if self._closed or not _WRITER.available():
            ok, value, seconds = _timed(self._in_transaction, fn)
            if not ok:
                _write_failed(what, value)
            if self.timing is not None:
                self.timing("write", seconds)
            return

        def done(outcome: Outcome) -> None:  # in the hub
            ok, value, seconds = outcome
            if not ok:
                _write_failed(what, value)
            if self.timing is not None:
                self.timing("write", seconds)

        _WRITER.submit(lambda: _timed(self._in_transaction, fn), done)

    def read(self, fn: Callable[[Connection], T]) -> T:
        """``fn(connection)`` on a reader thread."""
        return self._run(_READERS, "read", self._connected, fn)

    def _in_transaction(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE") as conn, conn.begin():
            return fn(conn)

    def _connected(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    def _run(self, pools: _Pools | None, operation: str, how: Callable[[Callable[[Connection], T]], T],
             fn: Callable[[Connection], T]) -> T:
        started = time.perf_counter()
        try:
            pool = pools.get() if pools is not None and not self._closed else None
            if pool is None:
                return how(fn)
            ok, value = pool.apply(_capture, (how, fn))
            if not ok:
                raise value
            return value  # type: ignore[no-any-return]
        finally:
            if self.timing is not None:
                self.timing(operation, time.perf_counter() - started)

    # -- the schema ------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Apply the schema steps the database has not had; returns its version.

        :raises SchemaTooNew: the database has more steps than `MIGRATIONS`.
        """
        return self.write(self._migrate)

    def _migrate(self, conn: Connection) -> int:
        if self.dialect == "postgresql":
            # Held to the end of this transaction: replicas starting together take turns.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7418227343)"))
        # SQLite: every write transaction is BEGIN IMMEDIATE (`_sqlite_begin`), one at a time.
        schema_table.create(conn, checkfirst=True)
        version = conn.execute(sa.select(schema_table.c.version).where(schema_table.c.id == 1)).scalar()
        if version is None:
            conn.execute(schema_table.insert().values(id=1, version=0))
            version = 0
        if version > len(MIGRATIONS):
            raise SchemaTooNew(f"the database {redacted(self.url)} has schema version {version}; this "
                               f"flask-notebook knows versions up to {len(MIGRATIONS)}: upgrade flask-notebook")
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            step(conn)
            conn.execute(schema_table.update().where(schema_table.c.id == 1).values(version=number))
            log.info("database schema migrated to version %d", number)
        return len(MIGRATIONS)

    def version(self) -> int:
        """The database's schema version (0: none applied)."""
        def read(conn: Connection) -> int:
            if not sa.inspect(conn).has_table(schema_table.name):
                return 0
            return int(conn.execute(sa.select(schema_table.c.version)).scalar() or 0)
        return self.read(read)

    # -- records -------------------------------------------------------------------------------

    def put(self, table: sa.Table, record_id: str, record: dict[str, Any], **columns: Any) -> None:
        """Insert or replace the row `record_id` of `table` (this server's), with `record` as
        JSON and `columns` as they are."""
        row = {"id": record_id, "server": self.server, "record": _dumps(record), **columns}
        if "updated" in table.c and "updated" not in row:
            row["updated"] = time.time()
        self.write(lambda conn: _upsert(conn, self.dialect, table, row))

    def put_later(self, table: sa.Table, record_id: str, record: dict[str, Any], *, what: str,
                  **columns: Any) -> None:
        """`put`, queued without waiting for it (`write_later`): the record is encoded on the
        writer thread too, so the caller pays for neither. `record` must not change after."""
        server = self.server
        stamp = "updated" in table.c and "updated" not in columns

        def write(conn: Connection) -> None:
            row = {"id": record_id, "server": server, "record": _dumps(record), **columns}
            if stamp:
                row["updated"] = time.time()
            _upsert(conn, self.dialect, table, row)

        self.write_later(write, what=what)

    def update_if(self, table: sa.Table, record_id: str, expect: dict[str, Any], changes: dict[str, Any]) -> bool:
        """In one transaction, the record `record_id` of `table` (any server's), if each key of
        `expect` has that value in it, updated with `changes`: whether it was. Of several
        processes that expect one record, one wins (PostgreSQL locks the row; SQLite's writes
        go one at a time)."""

        def swap(conn: Connection) -> bool:
            query = sa.select(table.c.record).where(table.c.id == record_id)
            if self.dialect == "postgresql":
                query = query.with_for_update()
            raw = conn.execute(query).scalar()
            if raw is None:
                return False
            record = orjson.loads(raw)
            if any(record.get(key) != value for key, value in expect.items()):
                return False
            record.update(changes)
            values: dict[str, Any] = {"record": _dumps(record)}
            if "updated" in table.c:
                values["updated"] = time.time()
            conn.execute(table.update().where(table.c.id == record_id).values(**values))
            return True

        return self.write(swap)

    def delete(self, table: sa.Table, *record_ids: str) -> None:
        if record_ids:
            self.write(lambda conn: conn.execute(table.delete().where(table.c.id.in_(record_ids))))

    def records(self, table: sa.Table, *, everyone: bool = False, **where: Any) -> list[dict[str, Any]]:
        """The records of `table` (this server's unless `everyone`), where each column of
        `where` equals its value; oldest first where the table has ``created``."""
        query = sa.select(table.c.record)
        if not everyone:
            query = query.where(table.c.server == self.server)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        if "created" in table.c:
            query = query.order_by(table.c.created)
        rows = self.read(lambda conn: conn.execute(query).scalars().all())
        return [orjson.loads(row) for row in rows]

    def close(self) -> None:
        """Let the connections go, once the writes queued before (`write_later`) are done.
        Calls after this run inline."""
        if not self._closed and _WRITER.available():
            _WRITER.call(_nothing)  # the writer thread takes its queue in order: this comes last
        self._closed = True
        self.engine.dispose()


def _upsert(conn: Connection, dialect: str, table: sa.Table, row: dict[str, Any]) -> None:
    if dialect in ("sqlite", "postgresql"):
        insert: Any
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        statement = insert(table).values(row)
        changed = {name: statement.excluded[name] for name in row if name != "id"}
        conn.execute(statement.on_conflict_do_update(index_elements=[table.c.id], set_=changed))
        return
    # Any other database: delete and insert, in the caller's transaction.
    conn.execute(table.delete().where(table.c.id == row["id"]))
    conn.execute(table.insert().values(row))


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL: readers do not wait for the writer, and a crash loses no committed write.

    The sqlite3 module's own transaction handling is turned off (it would begin lazily, and
    not before DDL); `_sqlite_begin` begins each transaction instead, as SQLAlchemy's pysqlite
    documentation advises."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Writes take the database's write lock when they begin (``BEGIN IMMEDIATE``): two
    processes' writers then wait for each other (``busy_timeout``) instead of failing when a
    read transaction tries to become a write one."""
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def _capture(how: Callable[[Callable[[Connection], T]], T], fn: Callable[[Connection], T]) -> tuple[bool, Any]:
    try:
        return True, how(fn)
    except Exception as exc:  # re-raised in the calling greenlet
        return False, exc


def _timed(how: Callable[[Callable[[Connection], T]], T], fn: Callable[[Connection], T]) -> tuple[bool, Any, float]:
    started = time.perf_counter()
    ok, value = _capture(how, fn)
    return ok, value, time.perf_counter() - started


def _nothing() -> Outcome:
    return True, None, 0.0


def _write_failed(what: str, exc: BaseException) -> None:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    log.warning("the database write of %s failed: %s", what, detail)


def ids(records: Iterable[dict[str, Any]]) -> list[str]:
    return [str(record["id"]) for record in records]
