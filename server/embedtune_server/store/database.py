"""The SQLite database file: connections, durability mode and the write sequence.

WAL mode lets readers (Get, Search hydration) run while the single writer commits.
`synchronous` is chosen by the operator: FULL (default) fsyncs the WAL on every commit,
so an acknowledged write survives power loss; NORMAL fsyncs only at checkpoints, so it
survives a process crash but may lose the last commits on power loss.

Every write transaction that changes documents takes the next `write_seq` (`bump_write_seq`);
a saved index records the sequence it reflects, so a restart can tell a stale index file
from a current one, and the document change log says what happened since.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

_META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


class DiskFullError(OSError):
    """SQLite could not write: the disk holding the database is full (errno ENOSPC, like
    any other write that finds the disk full). Nothing of the transaction was kept."""


class Database:
    """One SQLite file; one connection per thread, writes serialised by a lock."""

    def __init__(
        self,
        path: Path,
        synchronous: str = "FULL",
        schemas: Iterable[str] = (),
        migrate: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self.path = path
        self._synchronous = synchronous
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = self.connection()
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(_META_SCHEMA)
            if migrate is not None:
                migrate(connection)
            for schema in schemas:
                for statement in schema.split(";"):
                    if statement.strip():
                        connection.execute(statement)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections must not be shared across threads)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
            connection.execute("PRAGMA busy_timeout=10000")
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (and durable) on exit, rolled back on an exception.

        SQLite may already have rolled back by itself (a full disk at COMMIT does), so the
        rollback runs only while a transaction is still open. A full disk raises `DiskFullError`.
        """
        with self._write_lock:
            connection = self.connection()
            try:
                connection.execute("BEGIN IMMEDIATE")
                yield connection
                connection.execute("COMMIT")
            except BaseException as exc:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                    raise DiskFullError(errno.ENOSPC, str(exc), str(self.path)) from exc
                raise

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside it sees the same committed state."""
        connection = self.connection()
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")

    @staticmethod
    def bump_write_seq(connection: sqlite3.Connection) -> int:
        """Take the next write sequence inside the caller's write transaction and return it."""
        connection.execute(
            "INSERT INTO meta(key, value) VALUES ('write_seq', '1') ON CONFLICT(key) DO UPDATE"
            " SET value = CAST(value AS INTEGER) + 1"
        )
        return int(get_meta(connection, "write_seq") or 0)

    def write_seq(self) -> int:
        return int(get_meta(self.connection(), "write_seq") or 0)

    def meta(self, key: str) -> str | None:
        return get_meta(self.connection(), key)

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()


def get_meta(connection: sqlite3.Connection, key: str) -> str | None:
    row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(connection: sqlite3.Connection, key: str, value: str) -> None:
    connection.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
