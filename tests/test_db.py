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


def backend_is_open(pid: int) -> bool:
    """Whether the server still has the backend ``pid``, asked on a connection of our own."""
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname="postgres",
    ) as other:
        for _ in range(50):  # a closed socket's backend ends a moment later
            if (
                other.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]
                ).fetchone()[0]
                == 0
            ):
                return False
            time.sleep(0.02)
    return True


@pytest.mark.django_db(transaction=True)
def test_no_pooled_connection_stays_open_for_a_forked_child_to_share():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]

    connections.close_all()
    assert backend_is_open(pid)  # handed back to the pool: the socket a child would inherit

    close_connections_before_fork()
    assert not backend_is_open(pid)

    with connection.cursor() as cursor:  # this process opens a pool of its own again
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
