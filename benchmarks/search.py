"""Directory search benchmark (a benchmark, not a timed test).

    .venv/bin/python benchmarks/search.py [--sizes 100000,10000] [--searches 200] [--rounds 2]
                                          [--at 2026-11-24T11:00-05:00] [--reuse]

Each size has its own PostgreSQL database, named after BENCH_DATABASE_URL's (default
postgres://postgres@127.0.0.1:5432/handoff_bench) with the size appended: handoff_bench_100000,
handoff_bench_10000 (created if missing). For each size a worker process builds a synthetic
directory there (generate_directory: N services at 0.6·N locations around Boston; --reuse
keeps one already built at that size) and signs a referrer in. Then the same fixed mix of
searches (words + need + near a ZIP within 10 miles + open now, first page with facet
counts) runs through the full Django view with the test client, search by search at each
size in turn, and each request's SQL is also replayed alone on a plain cursor. The mix runs
--rounds times (each round's figures pooled: 400 of each at the default 2). Prints p50/p95 of
both and their ratio, the ratio within each order, the growth of the request p95 between the
two sizes, and the EXPLAIN (ANALYZE) of one search's statements at the largest size.

Why interleaved: this shared machine's speed drifts by up to half within minutes. Measured
one size after the other, the growth figure compared two different machines; measured
search by search, each size sees the same one (and each request and its SQL alone, too).

Why the order of a request and its SQL alone alternates: whichever of the two runs second
finds the rows the first one read in PostgreSQL's buffers and the CPU's caches. Measured on
2026-12-06 with each search run in both orders (two runs), at 100,000 services the SQL alone
took 0.46 ms longer when it ran first (median; 0.90 ms for the 20 searches with the longest
SQL), and the request 0.48 ms less when it ran second (1.17 ms). With the SQL always second,
as until then, every ratio favoured the SQL: 1.53× in that pair of runs, against 1.41× with
the request always second. So each worker first runs the whole mix twice (which also warms
its caches) and keeps the statements each search ran the second time: what the measured
requests run, each word's spellings already looked up. Then, in the first round, the even
searches run the request first and replay what it ran; the odd ones replay the statements
kept, then run the request; each next round swaps them, so with an even number of rounds
every search is measured as often in one order as in the other. Both orders' ratios are
printed too, and how many SQL-first replays ran as many statements as their request (all of
them, unless a cache entry expired between the passes).

Why two rounds by default: the p95 of 200 searches is about their tenth slowest, so it moves
with a few of them. On 2026-12-06 (a slower machine than the one above), nine runs of one
round each gave request/SQL at p95 of 1.37 to 1.51× on the same code and databases; each
order's half also held different searches, so their two ratios differed by up to 0.23.

"Open now" decides how many services pass the hours filter: at 11:00 on a weekday most
do, on a Sunday evening few. --at sets the search's clock (directory.search's "now" only,
ticking from that moment) so runs compare; without it the searches use the real time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import ensure_database  # noqa: E402

BENCH_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/handoff_bench")
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


def database_url(size: int) -> str:
    """BENCH_DATABASE_URL with the size appended to the database's name."""
    parts = urlsplit(BENCH_URL)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_{size}"))


def build(size: int, *, reuse: bool) -> None:
    from django.core.management import call_command
    from django.db import connection

    from directory.generator import generate_directory
    from directory.models import Service
    from directory.search import deferred_search_rows

    call_command("migrate", verbosity=0)
    if reuse and Service.objects.count() == size:
        log(f"  {size} services: reusing the directory already built")
        return
    with connection.cursor() as cursor:
        # The benchmark database is its own: start from an empty directory.
        cursor.execute("TRUNCATE directory_organization, directory_searchword CASCADE")
    started = time.perf_counter()
    with deferred_search_rows():  # each search row written once, as an import should
        generate_directory(size, seed=42)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    log(f"  {size} services: built in {time.perf_counter() - started:.0f} s")


def log(text: str) -> None:
    # A worker's stdout carries its answers; what people read goes to stderr.
    print(text, file=sys.stderr, flush=True)


def search_mix(n: int) -> list[dict[str, str]]:
    from directory.generator import metro_zips

    rng = random.Random(2026)
    zips = [z for z, *_ in metro_zips()]
    mix = []
    for _ in range(n):
        need, words = rng.choice(WORDS_BY_NEED)
        mix.append(
            {
                "q": rng.choice(words),
                "need": need,
                "zip": rng.choice(zips),
                "radius": "10",
                "open": "now",
            }
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


def statements_of(captured) -> list[str]:
    """The statements a request ran, as a plain cursor can run them again."""
    return [q["sql"] for q in captured.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]


def run_search(client, params: dict[str, str]) -> tuple[object, list[str], float]:
    """One search through the view: its response, the statements it ran, its milliseconds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = client.get("/directory/", params, HTTP_HOST="localhost")
        request_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.status_code
    return response, statements_of(captured), request_ms


def replay(statements: list[str]) -> float:
    """Milliseconds to run a request's statements again, alone, on a plain cursor.

    In a transaction, as the search runs its statement (its SET LOCAL settings then apply).
    """
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        started = time.perf_counter()
        with transaction.atomic():
            for sql in statements:
                if sql.startswith(("SAVEPOINT", "RELEASE", "UPDATE", "INSERT", "DELETE")):
                    continue
                cursor.execute(sql)
                cursor.fetchall()
        return (time.perf_counter() - started) * 1000


def search_once(client, params: dict[str, str], kept: list[str], sql_first: bool) -> dict:
    """One search through the view and its SQL alone, in the order given.

    SQL first replays ``kept`` (what the same search ran in the worker's second pass before
    the measured searches); SQL second replays what the request just ran.
    """
    sql_ms = replay(kept) if sql_first else None
    response, statements, request_ms = run_search(client, params)
    if not sql_first:
        sql_ms = replay(statements)
    count = re.search(r'data-testid="result-count">\s*([\d,]+)', response.content.decode())
    return {
        "request_ms": request_ms,
        "sql_ms": sql_ms,
        "sql_first": sql_first,
        "total": int(count.group(1).replace(",", "")),
        "queries": len(statements),
        "replayed": len(kept) if sql_first else len(statements),
    }


REFERRER_EMAIL = "benchmark-referrer@example.org"


def benchmark_referrer(size: int):
    """The referrer the searches run as: one user in one clinic, whatever ran here before.

    Made once per database (again after a rebuild, which empties the organizations). Until
    2026-12-06 each run added a clinic to the same user, so after n runs with --reuse the
    referrer belonged to n organizations: each page then read n memberships and wrote an
    organization switcher of n - 1 choices (at ten, a search page took ~0.5 ms longer).
    """
    from accounts.models import Role, User
    from tests.factories import ClinicFactory, member

    referrer = User.objects.filter(email=REFERRER_EMAIL).first()
    if referrer is None or not referrer.memberships.exists():
        referrer = member(
            ClinicFactory(name=f"Benchmark Clinic {size}"), Role.REFERRER, email=REFERRER_EMAIL
        )
    return referrer


def worker(size: int, searches: int, at: datetime | None, reuse: bool) -> None:
    """One size's process: build, sign in, then answer "search N" and "explain" on stdin."""
    from unittest import mock

    os.environ["DATABASE_URL"] = database_url(size)
    import django

    django.setup()
    ensure_database()
    build(size, reuse=reuse)

    from django.test import Client

    import directory.search

    mix = search_mix(searches)
    clock = (
        mock.patch.object(directory.search, "timezone", ShiftedClock(at))
        if at
        else contextlib.nullcontext()
    )
    with clock:
        referrer = benchmark_referrer(size)
        client = Client()
        client.force_login(referrer)
        # The whole mix twice: warms caches and connections, and keeps each search's
        # statements for the searches whose SQL alone runs before their request. The first
        # pass looks up each word's spellings and each box once; the second runs what the
        # measured requests will run.
        for params in mix:
            run_search(client, params)
        kept = [run_search(client, params)[1] for params in mix]
        print("ready", flush=True)
        for line in sys.stdin:
            command = line.split()
            if command[0] == "search":
                i, round_ = int(command[1]), int(command[2])
                found = search_once(client, mix[i], kept[i], sql_first=(i + round_) % 2 == 1)
                found["search"] = i
                print(json.dumps(found), flush=True)
            elif command[0] == "explain":
                explain(at)
                print("done", flush=True)


class Worker:
    """The parent's handle on one size's worker process."""

    def __init__(self, size: int, args: argparse.Namespace) -> None:
        self.size = size
        command = [
            sys.executable,
            __file__,
            "--worker",
            str(size),
            "--searches",
            str(args.searches),
        ]
        command += ["--at", args.at.isoformat()] if args.at else []
        command += ["--reuse"] if args.reuse else []
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.results: list[dict[str, float]] = []

    def send(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def ask(self, command: str) -> str:
        self.send(command)
        return self.answer()

    def answer(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.size}-service worker stopped (exit {self.process.wait()})")
        return line.rstrip("\n")

    def relay(self, command: str) -> None:
        """Print what the worker prints for ``command`` until it says it is done."""
        self.send(command)
        while (line := self.answer()) != "done":
            print(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def figures(size: int, results: list[dict[str, float]]) -> dict[str, float]:
    request_ms = [r["request_ms"] for r in results]
    sql_ms = [r["sql_ms"] for r in results]
    found = {
        "request_p50": statistics.median(request_ms),
        "request_p95": percentile(request_ms, 95),
        "sql_p50": statistics.median(sql_ms),
        "sql_p95": percentile(sql_ms, 95),
        "mean_results": statistics.mean(r["total"] for r in results),
        "queries": statistics.mean(r["queries"] for r in results),
    }
    found["ratio_p95"] = found["request_p95"] / found["sql_p95"]
    print(
        f"  {size:>7} services: request p50 {found['request_p50']:.1f} ms, p95 "
        f"{found['request_p95']:.1f} ms | SQL alone p50 {found['sql_p50']:.1f} ms, p95 "
        f"{found['sql_p95']:.1f} ms | request/SQL at p95 "
        f"{found['ratio_p95']:.2f}× | {found['queries']:.0f} queries, "
        f"{found['mean_results']:.0f} matches on average"
    )
    orders = []
    for sql_first, name in ((False, "request first"), (True, "SQL first")):
        half = [r for r in results if r["sql_first"] is sql_first]
        if half:
            request_p95 = percentile([r["request_ms"] for r in half], 95)
            sql_p95 = percentile([r["sql_ms"] for r in half], 95)
            orders.append(
                f"{name} {request_p95 / sql_p95:.2f}× ({request_p95:.1f} / {sql_p95:.1f} ms)"
            )
    searches = {r["search"] for r in results}
    both = {r["search"] for r in results if r["sql_first"]} & {
        r["search"] for r in results if not r["sql_first"]
    }
    print(
        f"           request/SQL at p95 in each order ({len(both)} of {len(searches)} searches"
        f" measured in both): {', '.join(orders)}"
    )
    replays = [r for r in results if r["sql_first"]]
    same = sum(r["replayed"] == r["queries"] for r in replays)
    print(
        f"           SQL-first replays that ran as many statements as their request: {same} of {len(replays)}"
    )
    return found


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
        statement_settings_sql,
        tsquery_text,
        words_of,
        zip_point,
    )

    now = at or timezone.now()
    params = SearchParams(
        q="housing", need="housing-instability", origin=zip_point("02118"), radius=10, open_now=True
    )
    words = words_of(params.q)
    box = bounding_box(params.origin, params.radius)
    nearby = services_in_box(box)
    sql, args = search_statement(
        params, now, tsquery=tsquery_text(words, corrected_words(words)), nearby=nearby
    )
    print(f"  EXPLAIN of one search ({params.q!r}, {params.need}, 10 miles of 02118, open now):")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            statement_settings_sql()
        )  # as the search runs it (directory.search._fetch_quickly)
        cursor.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + BOX_PROBE_SQL, box_probe_args(box)
        )
        print(
            f"    -- the box probe: up to {FEW_LOCATIONS} locations in the box give the services"
            " the search starts from; more, and it checks each candidate's own coordinates"
        )
        for (line,) in cursor.fetchall():
            print("    " + line)
        print(
            "    -- the search statement"
            + (" (starting from the box's services)" if nearby else "")
        )
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, args)
        for (line,) in cursor.fetchall():
            print("    " + (line if len(line) <= 150 else line[:147] + "..."))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,10000")
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument(
        "--rounds", type=int, default=2, help="how many times the mix runs (figures pooled)"
    )
    parser.add_argument(
        "--at", type=datetime.fromisoformat, help="the search's clock (ISO 8601 with offset)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep a directory already built at that size"
    )
    parser.add_argument(
        "--no-explain", dest="explain", action="store_false", help="skip the query plans"
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # one size's process
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    if args.worker:
        worker(args.worker, args.searches, args.at, args.reuse)
        return

    if args.at:
        print(f"searching as if at {args.at.isoformat()}")
    # As the workers will read it, from the environment.
    from handoff.settings import SEARCH_PARALLEL_WORKERS

    print(f"parallel workers a search may use (SEARCH_PARALLEL_WORKERS): {SEARCH_PARALLEL_WORKERS}")
    sizes = sorted({int(s) for s in args.sizes.split(",")}, reverse=True)
    workers = []
    for size in sizes:  # one at a time: a build uses both cores
        workers.append(Worker(size, args))
        if workers[-1].answer() != "ready":
            raise SystemExit(f"the {size}-service worker did not start")
    rounds = args.rounds
    print(
        f"{args.searches} searches, each at {' and '.join(f'{s:,}' for s in sizes)} services in turn"
        + (f", {rounds} rounds:" if rounds > 1 else ":"),
        flush=True,
    )
    for round_ in range(rounds):
        for i in range(args.searches):
            # Alternate which size goes first, so neither always follows the other.
            for w in workers if (i + round_) % 2 == 0 else workers[::-1]:
                w.results.append(json.loads(w.ask(f"search {i} {round_}")))
    results = {w.size: figures(w.size, w.results) for w in workers}
    if len(sizes) == 2:
        large, small = sizes
        growth = results[large]["request_p95"] / results[small]["request_p95"]
        print(f"growth of request p95 from {small} to {large} services: {growth:.2f}×")
        big = results[large]
        print(
            f"targets at {large}: request p95 {big['request_p95']:.1f} ms (≤ 60: "
            f"{'met' if big['request_p95'] <= 60 else 'NOT met'}), growth {growth:.2f}× (≤ 2: "
            f"{'met' if growth <= 2 else 'NOT met'}), request/SQL {big['ratio_p95']:.2f}× (≤ 1.5: "
            f"{'met' if big['ratio_p95'] <= 1.5 else 'NOT met'})"
        )
    if args.explain:
        workers[0].relay("explain")  # at the largest size
    for w in workers:
        w.close()


if __name__ == "__main__":
    main()
