"""Directory search benchmark (a benchmark, not a timed test).

    .venv/bin/python benchmarks/search.py [--sizes 100000,10000] [--searches 200]
                                          [--at 2026-11-24T11:00-05:00] [--reuse]

Uses its own PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/handoff_bench; created if missing). For each size it
builds a synthetic directory (generate_directory: N services at 0.6·N locations around
Boston), runs a fixed mix of searches (words + need + near a ZIP within 10 miles + open now,
first page with facet counts) through the full Django view with the test client, and
right after each request replays the SQL it ran, alone, on a plain cursor. Prints p50/p95
of both and the ratio, the growth of the request p95 between the two sizes, and the
EXPLAIN (ANALYZE) of one search's statements.

"Open now" decides how many services pass the hours filter: at 11:00 on a weekday most
do, on a Sunday evening few. --at sets the search's clock (directory.search's "now" only,
ticking from that moment) so runs compare; without it the searches use the real time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import ensure_database  # noqa: E402

BENCH_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/handoff_bench")
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handoff.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("ALLOWED_HOSTS", "localhost")

WORDS_BY_NEED = [
    ("food-insecurity", ["food", "pantry", "meals", "groceries", "snap"]),
    ("housing-instability", ["rent", "eviction", "housing", "assistance"]),
    ("transportation-insecurity", ["rides", "transportation", "bus", "medical"]),
    ("homelessness", ["shelter", "outreach", "housing"]),
    ("employment-status", ["job", "training", "resume"]),
    ("stress", ["counseling", "support", "mental"]),
    ("utility-insecurity", ["heating", "utility", "bill"]),
    ("health-insurance-coverage-status", ["medicaid", "insurance", "enrollment"]),
]


def build(size: int, *, reuse: bool) -> None:
    from django.core.management import call_command
    from django.db import connection

    from directory.generator import generate_directory
    from directory.models import Service
    from directory.search import deferred_search_rows

    call_command("migrate", verbosity=0)
    if reuse and Service.objects.count() == size:
        print(f"  reusing the {size} services already built")
        return
    with connection.cursor() as cursor:
        # The benchmark database is its own: start every size from an empty directory.
        cursor.execute("TRUNCATE directory_organization, directory_searchword CASCADE")
    started = time.perf_counter()
    with deferred_search_rows():  # each search row written once, as an import should
        generate_directory(size, seed=42)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  built {size} services in {time.perf_counter() - started:.0f} s")


def search_mix(n: int) -> list[dict[str, str]]:
    from directory.generator import metro_zips

    rng = random.Random(2026)
    zips = [z for z, *_ in metro_zips()]
    mix = []
    for _ in range(n):
        need, words = rng.choice(WORDS_BY_NEED)
        mix.append(
            {"q": rng.choice(words), "need": need, "zip": rng.choice(zips), "radius": "10", "open": "now"}
        )
    return mix


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


class ShiftedClock:
    """Stands in for django.utils.timezone in directory.search: now() from another moment.

    Shifting only the search's clock keeps the rest of each request (sessions, logging) on
    the real one, and costs nothing per call, unlike patching the process's time.
    """

    def __init__(self, at: datetime) -> None:
        from django.utils import timezone

        self.offset = at - timezone.now()

    def now(self) -> datetime:
        from django.utils import timezone

        return timezone.now() + self.offset


def run(size: int, searches: int, at: datetime | None) -> dict[str, float]:
    from unittest import mock

    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    import directory.search
    from accounts.models import Role
    from tests.factories import ClinicFactory, member

    mix = search_mix(searches)
    clock = mock.patch.object(directory.search, "timezone", ShiftedClock(at)) if at else contextlib.nullcontext()
    request_ms, sql_ms, totals, queries = [], [], [], []
    with clock:
        referrer = member(ClinicFactory(name=f"Benchmark Clinic {size}"), Role.REFERRER)
        client = Client()
        client.force_login(referrer)
        for params in mix[:10]:  # warm caches and connections
            client.get("/directory/", params, HTTP_HOST="localhost")
        for params in mix:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get("/directory/", params, HTTP_HOST="localhost")
                request_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
            count = re.search(r'data-testid="result-count">\s*([\d,]+)', response.content.decode())
            totals.append(int(count.group(1).replace(",", "")))
            statements = [q["sql"] for q in captured.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
            queries.append(len(statements))
            # The same SQL alone, at once (a shared machine's speed drifts over a run; measured
            # back to back, the request and its SQL see the same machine): every statement
            # the request ran, replayed on a plain cursor, in a transaction as the search runs
            # its statement (its SET LOCAL settings then apply).
            with connection.cursor() as cursor:
                started = time.perf_counter()
                with transaction.atomic():
                    for sql in statements:
                        if sql.startswith(("SAVEPOINT", "RELEASE", "UPDATE", "INSERT", "DELETE")):
                            continue
                        cursor.execute(sql)
                        cursor.fetchall()
                sql_ms.append((time.perf_counter() - started) * 1000)
    figures = {
        "request_p50": statistics.median(request_ms),
        "request_p95": percentile(request_ms, 95),
        "sql_p50": statistics.median(sql_ms),
        "sql_p95": percentile(sql_ms, 95),
        "mean_results": statistics.mean(totals),
        "queries": statistics.mean(queries),
    }
    figures["ratio_p95"] = figures["request_p95"] / figures["sql_p95"]
    print(
        f"  {size:>7} services: request p50 {figures['request_p50']:.1f} ms, p95 "
        f"{figures['request_p95']:.1f} ms | SQL alone p50 {figures['sql_p50']:.1f} ms, p95 "
        f"{figures['sql_p95']:.1f} ms | request/SQL at p95 "
        f"{figures['ratio_p95']:.2f}× | {figures['queries']:.0f} queries, "
        f"{figures['mean_results']:.0f} matches on average"
    )
    return figures


def explain(at: datetime | None) -> None:
    """EXPLAIN ANALYZE the statements of one search of the mix (the most common word)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from directory.search import (
        BOX_PROBE_SQL,
        FEW_LOCATIONS,
        SearchParams,
        bounding_box,
        box_probe_args,
        corrected_words,
        search_statement,
        services_in_box,
        tsquery_text,
        words_of,
        zip_point,
    )

    now = at or timezone.now()
    params = SearchParams(q="housing", need="housing-instability", origin=zip_point("02118"), radius=10, open_now=True)
    words = words_of(params.q)
    box = bounding_box(params.origin, params.radius)
    nearby = services_in_box(box)
    sql, args = search_statement(params, now, tsquery=tsquery_text(words, corrected_words(words)), nearby=nearby)
    print(f"  EXPLAIN of one search ({params.q!r}, {params.need}, 10 miles of 02118, open now):")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(  # as the search runs it (directory.search._fetch_quickly)
            "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)"
        )
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + BOX_PROBE_SQL, box_probe_args(box))
        print(
            f"    -- the box probe: up to {FEW_LOCATIONS} locations in the box give the services"
            " the search starts from; more, and it checks each candidate's own coordinates"
        )
        for (line,) in cursor.fetchall():
            print("    " + line)
        print("    -- the search statement" + (" (starting from the box's services)" if nearby else ""))
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, args)
        for (line,) in cursor.fetchall():
            print("    " + (line if len(line) <= 150 else line[:147] + "..."))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,10000")
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--at", type=datetime.fromisoformat, help="the search's clock (ISO 8601 with offset)")
    parser.add_argument("--reuse", action="store_true", help="keep a directory already built at that size")
    parser.add_argument("--no-explain", dest="explain", action="store_false", help="skip the query plans")
    args = parser.parse_args()

    import django

    django.setup()
    ensure_database()
    if args.at:
        print(f"searching as if at {args.at.isoformat()}")
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"{size} services:")
        build(size, reuse=args.reuse)
        results[size] = run(size, args.searches, args.at)
        if args.explain:
            explain(args.at)
    if len(results) == 2:
        small, large = sorted(results)
        growth = results[large]["request_p95"] / results[small]["request_p95"]
        print(f"growth of request p95 from {small} to {large} services: {growth:.2f}×")
        big = results[large]
        print(
            f"targets at {large}: request p95 {big['request_p95']:.1f} ms (≤ 60: "
            f"{'met' if big['request_p95'] <= 60 else 'NOT met'}), growth {growth:.2f}× (≤ 2: "
            f"{'met' if growth <= 2 else 'NOT met'}), request/SQL {big['ratio_p95']:.2f}× (≤ 1.5: "
            f"{'met' if big['ratio_p95'] <= 1.5 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
