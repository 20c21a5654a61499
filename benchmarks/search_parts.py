"""Where a search request's time goes, at one size (a benchmark, not a timed test).

    .venv/bin/python benchmarks/search_parts.py --size 100000 [--searches 200]
                                                [--at 2026-11-24T11:00-05:00]

Runs benchmarks/search.py's fixed mix of searches through the view, in one process, on the
directory search.py built at that size (run search.py first; --reuse there keeps it). For
each request it times the SQL the request waited for (a connection.execute_wrapper), the
template's rendering and the result cards, and prints p50/p95 of each with the Python part
(the request minus its SQL) and the page's size. Run it at both sizes to see how the Python
part differs between them (benchmarks/NOTES.md, "stop 22"): search.py's growth and request/SQL
targets leave that part a narrow window.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.search import (  # noqa: E402  (sets the environment search.py runs with)
    ShiftedClock,
    benchmark_referrer,
    database_url,
    percentile,
    search_mix,
)


class Timers:
    """Milliseconds spent in some functions during the current request, by name."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                self.ms[name] = self.ms.get(name, 0.0) + elapsed

        return timed

    def sql(self, execute, sql, params, many, context):
        """A connection.execute_wrapper: the time the request waited for its statements."""
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.ms["sql"] = self.ms.get("sql", 0.0) + (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument(
        "--at", type=datetime.fromisoformat, help="the search's clock (ISO 8601 with offset)"
    )
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = database_url(args.size)
    import psycopg

    try:
        psycopg.connect(database_url(args.size)).close()
    except psycopg.OperationalError:
        raise SystemExit(f"no directory at {args.size}: run benchmarks/search.py first") from None
    import django

    django.setup()
    from unittest import mock

    from django.db import DatabaseError, connection
    from django.template.response import SimpleTemplateResponse
    from django.test import Client

    import directory.search
    import directory.views
    from directory.models import Service

    try:
        built = Service.objects.exists()
    except DatabaseError:  # not migrated
        built = False
    if not built:
        raise SystemExit(f"no directory at {args.size}: run benchmarks/search.py first")
    timers = Timers()
    patches = [
        mock.patch.object(
            SimpleTemplateResponse,
            "render",
            timers.wrap("template", SimpleTemplateResponse.render),
        ),
        mock.patch.object(
            directory.views, "_result_cards", timers.wrap("cards", directory.views._result_cards)
        ),
    ]
    if args.at:
        patches.append(mock.patch.object(directory.search, "timezone", ShiftedClock(args.at)))
    for patch in patches:
        patch.start()

    mix = search_mix(args.searches)
    client = Client()
    client.force_login(benchmark_referrer(args.size))
    for params in mix[:10]:  # warm caches and connections
        client.get("/directory/", params, HTTP_HOST="localhost")
    rows = []
    with connection.execute_wrapper(timers.sql):
        for params in mix:
            timers.ms = {}
            started = time.perf_counter()
            response = client.get("/directory/", params, HTTP_HOST="localhost")
            request_ms = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.status_code
            sql_ms = timers.ms.get("sql", 0.0)
            rows.append(
                {
                    "request": request_ms,
                    "SQL inside it": sql_ms,
                    "Python part": request_ms - sql_ms,
                    "template": timers.ms.get("template", 0.0),
                    "result cards": timers.ms.get("cards", 0.0),
                    "kB": len(response.content) / 1000,
                }
            )

    print(f"{args.size} services, {len(rows)} searches (ms, p50 / p95):")
    for name in ("request", "SQL inside it", "Python part", "template", "result cards"):
        values = [row[name] for row in rows]
        print(f"  {name}: {statistics.median(values):.2f} / {percentile(values, 95):.2f}")
    print(f"  page size: {statistics.mean(row['kB'] for row in rows):.1f} kB on average")


if __name__ == "__main__":
    main()
