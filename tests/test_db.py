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


def backend_count(pid: int, other: psycopg.Connection) -> int:
    return other.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[
        0
    ]


def other_connection() -> psycopg.Connection:
    """A connection of our own, outside Django's pool, to ask the server about backends."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname="postgres",
    )


def backend_ends(pid: int, within: float) -> bool:
    """Whether the server's backend ``pid`` ends within ``within`` seconds: a backend ends a
    moment after its socket closes, later on a busy machine (CI once took over a second)."""
    deadline = time.monotonic() + within
    with other_connection() as other:
        while backend_count(pid, other):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
    return True


@pytest.mark.django_db(transaction=True)
def test_no_pooled_connection_stays_open_for_a_forked_child_to_share():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]

    connections.close_all()
    with other_connection() as other:  # handed back to the pool: the socket a child would inherit
        assert backend_count(pid, other) == 1

    close_connections_before_fork()
    assert backend_ends(pid, within=10.0)

    with connection.cursor() as cursor:  # this process opens a pool of its own again
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
