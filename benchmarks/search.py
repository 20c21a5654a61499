"""Directory search benchmark (a benchmark, not a timed test).

    .venv/bin/python benchmarks/search.py [--sizes 10000,100000] [--searches 200]

Uses its own PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/handoff_bench; created if missing). For each size it
builds a synthetic directory (generate_directory: N services at 0.6·N locations around
Boston), runs a fixed mix of searches (words + need + near a ZIP within 10 miles + open now,
first page with facet counts) through the full Django view with the test client, then
replays the SQL each request ran, alone, on a plain cursor. Prints p50/p95 of both and the
ratio, and the EXPLAIN of one search's main query.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
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


def ensure_database() -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname="postgres", autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def build(size: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from directory.generator import generate_directory

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        # The benchmark database is its own: start every size from an empty directory.
        cursor.execute("TRUNCATE directory_organization, directory_searchword CASCADE")
    started = time.perf_counter()
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


def run(size: int, searches: int) -> dict[str, float]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Role
    from tests.factories import ClinicFactory, member

    referrer = member(ClinicFactory(name=f"Benchmark Clinic {size}"), Role.REFERRER)
    client = Client()
    client.force_login(referrer)
    mix = search_mix(searches)
    for params in mix[:10]:  # warm caches and connections
        client.get("/directory/", params, HTTP_HOST="localhost")
    request_ms, sql_ms, totals = [], [], []
    captured_all = []
    for params in mix:
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get("/directory/", params, HTTP_HOST="localhost")
            request_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        count = re.search(r'data-testid="result-count">\s*([\d,]+)', response.content.decode())
        totals.append(int(count.group(1).replace(",", "")))
        captured_all.append([q["sql"] for q in captured.captured_queries])
    # The same SQL alone: every statement the request ran, replayed on a plain cursor.
    with connection.cursor() as cursor:
        for statements in captured_all:
            started = time.perf_counter()
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
        "queries": statistics.mean(len(s) for s in captured_all),
    }
    print(
        f"  {size:>7} services: request p50 {figures['request_p50']:.1f} ms, p95 "
        f"{figures['request_p95']:.1f} ms | SQL alone p50 {figures['sql_p50']:.1f} ms, p95 "
        f"{figures['sql_p95']:.1f} ms | request/SQL at p95 "
        f"{figures['request_p95'] / figures['sql_p95']:.2f}× | {figures['queries']:.0f} queries, "
        f"{figures['mean_results']:.0f} matches on average"
    )
    return figures


def explain_one() -> None:
    from django.db import connection
    from django.utils import timezone

    from directory.search import (
        SearchParams,
        _with_distance,
        filtered_services,
        with_words,
        zip_point,
    )

    params = SearchParams(q="pantry", need="food-insecurity", origin=zip_point("02118"), radius=10, open_now=True)
    qs = _with_distance(with_words(filtered_services(params, timezone.now()), params.q), params)
    sql, sql_params = qs.order_by("distance").values("pk", "distance")[:20].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, sql_params)
        print("\n".join("    " + row[0] for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,10000")
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--explain", action="store_true", help="print the plan of one search")
    args = parser.parse_args()

    import django

    django.setup()
    ensure_database()
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"{size} services:")
        build(size)
        results[size] = run(size, args.searches)
        if args.explain:
            explain_one()
    if len(results) == 2:
        small, large = sorted(results)
        growth = results[large]["request_p95"] / results[small]["request_p95"]
        print(f"growth of request p95 from {small} to {large} services: {growth:.2f}×")


if __name__ == "__main__":
    main()
