"""A throw-away PostgreSQL 15 (Debian's) for the tests: a cluster in a temporary folder on a
free loopback port, as /work/shared/reference/field-notes.md describes; one per xdist worker
(the ``postgres`` fixture is session-scoped) and a fresh database per test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
#: initdb refuses to run as root: as root the cluster is the ``postgres`` user's.
AS_USER = "postgres" if os.geteuid() == 0 else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str | Path, timeout: float = 60) -> None:
    done = subprocess.run([str(a) for a in args], user=AS_USER, capture_output=True, text=True, timeout=timeout,
                          cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"{Path(str(args[0])).name} failed ({done.returncode}): {done.stdout}{done.stderr}")


class PostgreSQL:
    """A running cluster (``start``) in `folder`: trust authentication on 127.0.0.1 and a
    socket in the folder, superuser ``postgres``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = 0

    def start(self) -> None:
        """:raises RuntimeError: initdb or pg_ctl failed (their output says why)."""
        if AS_USER is not None:
            shutil.chown(self.folder, AS_USER)
        _run(BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        for attempt in range(3):  # the free port may be taken between the probe and the start
            self.port = _free_port()
            try:
                _run(BIN / "pg_ctl", "-D", self.data, "-l", self.folder / "log", "-w", "-t", "30", "-o",
                     f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
                return
            except RuntimeError:
                if attempt == 2:
                    raise RuntimeError(f"PostgreSQL did not start: {self.log()}") from None

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            _run(BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop")

    def log(self) -> str:
        try:
            return (self.folder / "log").read_text(errors="replace")
        except OSError:
            return ""

    def connect(self, database: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database, **kwargs)

    def url(self, database: str, *, password: str | None = None) -> str:
        """The SQLAlchemy URL of `database` (with a `password`, which trust authentication ignores)."""
        credentials = "postgres" if password is None else f"postgres:{password}"
        return f"postgresql+psycopg://{credentials}@127.0.0.1:{self.port}/{database}"

    @contextmanager
    def database(self) -> Iterator[str]:
        """A new, empty database (its name), dropped after, its connections closed."""
        name = "t_" + uuid.uuid4().hex[:16]
        with self.connect(autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            with self.connect(autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_postgresql() -> Iterator[PostgreSQL]:
    """A cluster for as long as the block lasts, stopped and removed after, even on failure.

    Not under pytest's temporary folders: those are private to root, and the cluster's user
    must reach its folder."""
    folder = Path(tempfile.mkdtemp(prefix="flask-notebook-pg-"))
    folder.chmod(0o755)
    server = PostgreSQL(folder)
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
