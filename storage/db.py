"""The database engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")

T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept the usual spellings (`postgres://`, `postgresql://`, `sqlite:///`) and pick the async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise ValueError(
            f"unsupported DATABASE_URL driver {parsed.drivername!r}; use one of {SUPPORTED_DRIVERS}"
        )
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets pages read while a request writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str, *, echo: bool = False, pool_size: int | None = None) -> AsyncEngine:
    """An async engine for `url` with the settings each backend needs; `pool_size` fixes the number
    of connections (no overflow), for a pool of its own beside the main one."""
    url = normalize_url(url)
    sizing: dict[str, Any] = {} if pool_size is None else {"pool_size": pool_size, "max_overflow": 0}
    if url.startswith("sqlite"):
        # Every session ends its transaction itself (commit or rollback), so the pool's own rollback
        # on return would only cost one more trip to aiosqlite's thread per transaction.
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30},
            pool_pre_ping=False,
            pool_reset_on_return=None,
            **sizing,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url, echo=echo, pool_pre_ping=True, **({"pool_size": 10, "max_overflow": 10} | sizing)
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (no implicit refresh on attribute access)."""
    return async_sessionmaker(engine, expire_on_commit=False)


class SqliteWriteThread:
    """A synchronous SQLite connection on a thread of its own, for one writer that writes often.

    Through aiosqlite, each statement, the commit and each fetch is a trip to aiosqlite's thread and
    back (a queue, a thread switch and a wake-up of the event loop), and SQLAlchemy's async session
    adds its greenlet bridge to each: a batch of chat messages took about six such trips. Here a whole
    transaction (`run(work)`: `work` gets a connection inside `BEGIN`, and it commits when `work`
    returns) is one trip, and its statements run on SQLAlchemy's synchronous engine. The caller takes
    the SQLite write turn first, as for any write.
    """

    def __init__(self, url: str) -> None:
        parsed = make_url(normalize_url(url))
        if parsed.get_backend_name() != "sqlite":
            raise ValueError(f"SqliteWriteThread needs an SQLite database, not {parsed.get_backend_name()}")
        self._engine = sqlalchemy.create_engine(
            parsed.set(drivername="sqlite+pysqlite"),
            # Made on the thread, but disposed of from the event loop's at shutdown.
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=1,
            max_overflow=0,
            pool_reset_on_return=None,
        )
        event.listen(self._engine, "connect", _sqlite_pragmas)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="jiayi-sqlite-writer")

    async def run(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in one transaction on the thread: committed if it returns, rolled back
        if it raises (and the exception raised here)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._transaction, work)

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        with self._engine.begin() as connection:
            return work(connection)

    async def close(self) -> None:
        """Close the connection and end the thread (after the work already given to it)."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown(wait=True)
