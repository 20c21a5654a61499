"""Database connections across a fork."""

from __future__ import annotations

from django.db import connections


def close_connections_before_fork() -> None:
    """Close every database connection, pooled ones included, before forking a process.

    connections.close_all() hands a pooled PostgreSQL connection back to its pool, which
    keeps the socket open (and its worker threads, which a child does not get). A forked
    child would share those sockets with the parent, and two processes reading replies from
    one socket leaves one of them waiting forever (seen: an end-to-end test hung on a query
    after the live server was forked). Each process opens its own pool after this.
    """
    connections.close_all()
    for connection in connections.all():
        close_pool = getattr(connection, "close_pool", None)  # PostgreSQL's backend only
        if close_pool is not None:
            close_pool()
