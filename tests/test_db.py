"""Database connections across a fork (handoff.db)."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection, connections

from handoff.db import close_connections_before_fork

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql" or not connection.settings_dict["OPTIONS"].get("pool"),
    reason="only PostgreSQL connections are pooled",
)


def backend(pid: int, other: psycopg.Connection) -> tuple | None:
    """The server's backend ``pid``, if it runs: when it started, its state and last query."""
    return other.execute(
        "SELECT backend_start, state, query FROM pg_stat_activity WHERE pid = %s", [pid]
    ).fetchone()


def other_connection() -> psycopg.Connection:
    """A connection of our own, outside Django's pool, to ask the server about backends.

    In autocommit: inside a transaction pg_stat_activity answers from a snapshot taken at its
    first read, so a backend that ended after that would look alive until the transaction
    ended (which made this test fail now and then, when the first look came before the
    backend had quite exited)."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname="postgres",
        autocommit=True,
    )


def backend_still_running(pid: int, started, within: float) -> tuple | None:
    """The backend ``pid`` that started at ``started`` if it still runs after ``within``
    seconds, else None: a backend ends a moment after its socket closes, later on a busy
    machine. A new backend given the same pid is another one."""
    deadline = time.monotonic() + within
    with other_connection() as other:
        while (found := backend(pid, other)) is not None and found[0] == started:
            if time.monotonic() > deadline:
                return found
            time.sleep(0.02)
    return None


@pytest.mark.django_db(transaction=True)
def test_no_pooled_connection_stays_open_for_a_forked_child_to_share():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]

    connections.close_all()
    with other_connection() as other:  # handed back to the pool: the socket a child would inherit
        found = backend(pid, other)
        assert found is not None
        started = found[0]

    close_connections_before_fork()
    assert backend_still_running(pid, started, within=10.0) is None

    with connection.cursor() as cursor:  # this process opens a pool of its own again
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
