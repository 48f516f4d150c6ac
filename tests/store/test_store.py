"""The store on its own (``core/store.py``), on SQLite and PostgreSQL: schema steps, the
refusals at start-up, records, and the execution records' expiry."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flask_notebook import create_app
from flask_notebook.core import errors
from flask_notebook.core import store as store_module
from flask_notebook.core.execute import Executions
from flask_notebook.core.executionstore import StoredExecutions
from flask_notebook.core.users import User
from flask_notebook.core.store import (MIGRATIONS, SchemaTooNew, Store, executions_table, kernels_table, runs_table,
                                       schema_table)
from flask_notebook.settings import Settings

from ..support.env import TOKEN
from ..support.waiting import wait_for


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    db = Store(db_url, server="s1")
    yield db
    db.close()


def _tables(db: Store) -> set[str]:
    return set(db.read(lambda conn: sa.inspect(conn).get_table_names()))


def _counting_step(conn: Connection) -> None:
    """A step after the first: it makes a table on its first application and adds a row on each."""
    table = sa.Table("step_runs", sa.MetaData(), sa.Column("n", sa.Integer))
    table.create(conn, checkfirst=True)
    conn.execute(table.insert().values(n=1))


def _step_runs(db: Store) -> int:
    return int(db.read(lambda conn: conn.execute(sa.text("SELECT count(*) FROM step_runs")).scalar()) or 0)


def test_the_schema_steps_are_applied_once_and_recorded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert store.version() == 0
    assert store.migrate() == len(MIGRATIONS) == store.version()
    assert {"flask_notebook_schema", "kernels", "sessions", "runs", "executions"} <= _tables(store)
    rows = store.read(lambda conn: conn.execute(sa.select(schema_table)).all())
    assert [tuple(row) for row in rows] == [(1, len(MIGRATIONS))]
    # A second migrate does nothing; a newer flask-notebook's next step is applied once, on top.
    assert store.migrate() == len(MIGRATIONS)
    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, _counting_step))
    assert store.migrate() == len(MIGRATIONS) + 1
    assert store.migrate() == len(MIGRATIONS) + 1
    assert _step_runs(store) == 1 and store.version() == len(MIGRATIONS) + 1


def test_stores_migrating_at_once_apply_each_step_once(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicas that start together: each of 4 connections migrates a fresh database at the same
    moment; the database's lock makes them take turns."""
    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, _counting_step))
    stores = [Store(db_url, server="s1") for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    versions: list[int] = []
    failures: list[BaseException] = []

    def migrate(db: Store) -> None:
        barrier.wait(timeout=10)
        try:
            versions.append(db.migrate())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=migrate, args=(db,)) for db in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert not failures and versions == [len(MIGRATIONS) + 1] * 4
        assert _step_runs(stores[0]) == 1
    finally:
        for db in stores:
            db.close()


def test_a_database_of_a_newer_version_stops_start_up_naming_the_key(db_url: str, root: Path) -> None:
    if db_url.startswith("postgresql"):
        db_url = db_url.replace("postgres@", "postgres:s3cret-pw@")
    db = Store(db_url)
    db.migrate()
    db.write(lambda conn: conn.execute(schema_table.update().values(version=len(MIGRATIONS) + 1)))
    with pytest.raises(SchemaTooNew):
        db.migrate()
    db.close()
    with pytest.raises(ValueError) as raised:
        create_app({"NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN, "NOTEBOOK_DATABASE_URL": db_url})
    message = str(raised.value)
    assert "\n" not in message and message.startswith("NOTEBOOK_DATABASE_URL ")
    assert f"schema version {len(MIGRATIONS) + 1}" in message and "upgrade flask-notebook" in message
    assert "s3cret-pw" not in message


@pytest.mark.parametrize("url, said", [
    ("postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:{closed}/nothing", "cannot be used"),
    ("postgresql+pg8000://postgres:s3cret-pw@127.0.0.1:{closed}/nothing", "driver that is not installed"),
])
def test_an_unusable_postgresql_url_stops_start_up_naming_the_key(url: str, said: str, root: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(ValueError) as raised:
        create_app({"NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN,
                    "NOTEBOOK_DATABASE_URL": url.format(closed=closed)})
    message = str(raised.value)
    assert "\n" not in message and message.startswith("NOTEBOOK_DATABASE_URL") and said in message
    assert "s3cret-pw" not in message and "***" in message


@pytest.mark.parametrize("value", ["just-a-path.sqlite", "://nothing", 42])
def test_a_database_url_of_bad_syntax_is_refused_by_the_settings(value: object) -> None:
    with pytest.raises(ValueError, match="NOTEBOOK_DATABASE_URL"):
        Settings.from_config({"NOTEBOOK_DATABASE_URL": value})


def test_records_round_trip(store: Store) -> None:
    store.migrate()
    other = Store(store.url, server="s2")  # another root's server on the same database
    try:
        record = {"id": "r1", "text": "ünïcode ✓", "nested": {"list": [1, 2.5, None, True]}, "owner": "alice"}
        store.put(runs_table, "r1", record, owner="alice", status="queued", created=2.0)
        store.put(runs_table, "r0", {"id": "r0"}, owner=None, status="completed", created=1.0)
        other.put(runs_table, "x1", {"id": "x1"}, owner="alice", status="queued", created=0.5)
        assert store.records(runs_table) == [{"id": "r0"}, record]  # oldest first, this server's only
        assert store.records(runs_table, owner="alice") == [record]
        assert [r["id"] for r in store.records(runs_table, everyone=True)] == ["x1", "r0", "r1"]
        changed = {**record, "status": "completed"}
        store.put(runs_table, "r1", changed, owner="alice", status="completed", created=2.0)  # replaced
        assert store.records(runs_table, status="completed") == [{"id": "r0"}, changed]
        store.delete(runs_table, "r0", "r1")
        assert store.records(runs_table) == [] and other.records(runs_table) == [{"id": "x1"}]
        # A write queued without waiting lands after those before it.
        store.put_later(runs_table, "r2", {"id": "r2"}, what="a test", owner=None, status="queued", created=3.0)
        assert wait_for(lambda: store.records(runs_table), timeout=10) == [{"id": "r2"}]
    finally:
        other.close()


def test_a_record_updated_while_an_update_waits_is_not_updated_again(store: Store) -> None:
    """Replicas that find a kernel's holder dead at the same moment each try to take its record
    over (``KernelRecords.take_over``): one that waits for another's transaction sees what it
    wrote, and does not take the record too. (PostgreSQL: the row is read for update; without
    that, the read would not wait, and the update would overwrite the other's.)"""
    store.migrate()
    store.put(kernels_table, "k1", {"id": "k1", "replica": "a", "kept": [1, "two"]})
    other = Store(store.url, server="s1")
    answers: list[bool] = []
    try:
        with other.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE") as conn, conn.begin():
            record = sa.select(kernels_table.c.record).where(kernels_table.c.id == "k1")
            conn.execute(record.with_for_update())  # the row (SQLite: the database) is this one's now
            taker = threading.Thread(target=lambda: answers.append(
                store.update_if(kernels_table, "k1", {"replica": "a"}, {"replica": "b"})))
            taker.start()
            if store.dialect == "postgresql":  # until it waits for this transaction
                wait_for(lambda: other.read(lambda c: c.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")).scalar()), timeout=10)
            conn.execute(kernels_table.update().where(kernels_table.c.id == "k1").values(
                record='{"id": "k1", "replica": "x", "kept": [1, "two"]}'))
        taker.join(timeout=30)
    finally:
        other.close()
    assert answers == [False]
    assert store.records(kernels_table, id="k1") == [{"id": "k1", "replica": "x", "kept": [1, "two"]}]
    assert store.update_if(kernels_table, "k1", {"replica": "x"}, {"replica": "b", "url": "u"})
    assert store.records(kernels_table, id="k1") == [{"id": "k1", "replica": "b", "kept": [1, "two"], "url": "u"}]
    assert not store.update_if(kernels_table, "gone", {"replica": "a"}, {"replica": "late"})


def test_execution_records_expire_after_the_ttl(store: Store) -> None:
    store.migrate()
    now = [1000.0]
    stored = StoredExecutions(store, ttl=60, clock=lambda: now[0])
    record = {"id": "e1", "kernel_id": "k1", "status": "ok", "outputs": [], "finished_ts": 990.0}
    stored.save(record, kernel_id="k1", owner="bob", finished=990.0)
    assert wait_for(lambda: stored.get("e1"), timeout=10) == (record, "bob")
    assert stored.get("nope") is None
    now[0] = 1051.0  # 61 s after it finished: gone at once, though its row is still there
    assert stored.get("e1") is None
    assert store.records(executions_table) == [record]
    stored.purge()  # expired rows are deleted
    wait_for(lambda: not store.records(executions_table), timeout=10)


def test_a_stored_execution_record_is_its_owners_only(store: Store) -> None:
    """After a restart (memory empty), the record comes from the database, with the same
    visibility: its owner and administrators; anyone else gets the 404 of an unknown request."""
    store.migrate()
    stored = StoredExecutions(store, ttl=60)
    executions = Executions(interrupt=lambda kernel_id: None, ready_timeout=1, queue_limit=10, stored=stored)
    record = {"id": "e1", "kernel_id": "k1", "status": "ok", "execution_count": 3,
              "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi\n"}], "error": None,
              "user_expressions": {}, "input_request": None, "started": "2026-01-01T00:00:00.000000Z",
              "finished": "2026-01-01T00:00:01.000000Z"}
    stored.save({**record, "started_ts": 1767225600.0, "began_ts": 1767225600.0, "finished_ts": 1767225601.0},
                kernel_id="k1", owner="alice", finished=time.time())
    alice, bob, admin = User("alice"), User("bob"), User("carol", roles=frozenset({"admin"}))
    assert executions.records.get("e1") is None  # not in memory: as after a restart
    found = executions.get("e1", user=alice)  # (without gevent's patching, the write was made inline)
    assert found.record() == record and found.done and [name for name, _ in found.events] == [
        "accepted", "output", "done"]
    assert executions.get("e1", "k1", user=admin).record() == record
    for user, kernel_id in ((bob, None), (alice, "k2")):
        with pytest.raises(errors.NotFound, match="No such request: e1"):
            executions.get("e1", kernel_id, user=user)


def test_passwords_in_a_database_url_are_hidden_wherever_they_are() -> None:
    shown = store_module.redacted("postgresql+psycopg://u:secret1@127.0.0.1:1/db?password=secret2&sslmode=require")
    assert "secret" not in shown and "u:***@127.0.0.1:1/db" in shown and "sslmode=require" in shown
    assert "secret" not in store_module.redacted("postgresql+psycopg:///db?host=/x&sslpassword=secret3")


def test_a_mistyped_database_url_is_refused_without_being_echoed() -> None:
    with pytest.raises(ValueError, match="NOTEBOOK_DATABASE_URL") as refused:
        Settings.from_config({"NOTEBOOK_DATABASE_URL": "u:secret@127.0.0.1/db"})
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize("url", ["postgresql+psycopg://u:secret@::1/db", "postgresql+psycopg://u:secret@[::1/db",
                                 "postgresql+psycopg://u:secret@h:port/db"])
def test_an_unparsable_database_url_says_why_without_echoing_it(root: Path, url: str) -> None:
    with pytest.raises(ValueError) as refused:
        create_app({"NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN, "NOTEBOOK_DATABASE_URL": url})
    message = str(refused.value)
    assert message.startswith("NOTEBOOK_DATABASE_URL") and "IPv6 host goes in brackets" in message
    assert "secret" not in message and "\n" not in message


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_database_is_refused_with_one_line(root: Path, url: str) -> None:
    with pytest.raises(ValueError) as refused:
        create_app({"NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN, "NOTEBOOK_DATABASE_URL": url})
    message = str(refused.value)
    assert message.startswith("NOTEBOOK_DATABASE_URL") and "in-memory" in message and "\n" not in message
