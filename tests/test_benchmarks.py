"""The search benchmark runs end to end at tiny sizes (it is not a timed test: no figure is judged).

benchmarks/search.py is how the directory's performance targets are measured; this keeps the
command itself working: its worker processes, one database per size, the searches run at both
sizes in turn, and what it prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the benchmark runs on PostgreSQL"
)

FIGURES = re.compile(
    r"^ +(?P<size>\d+) services: request p50 [\d.]+ ms, p95 [\d.]+ ms \| SQL alone p50 [\d.]+ ms, "
    r"p95 [\d.]+ ms \| request/SQL at p95 [\d.]+× \| (?P<queries>\d+) queries, (?P<matches>\d+) matches on average$",
    re.MULTILINE,
)


def connect(settings: dict, dbname: str, **options) -> psycopg.Connection:
    """A connection of our own to ``dbname`` on the test database's server."""
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=dbname,
        **options,
    )


def run_script(script: str, *args: str, env: dict, timeout: int) -> subprocess.CompletedProcess:
    """A benchmark script as a person runs it, from the project's folder."""
    return subprocess.run(
        [sys.executable, f"benchmarks/{script}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def drop_databases(settings: dict, names: list[str]) -> None:
    with connect(settings, "postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_search_benchmark_refuses_fewer_than_one_round_before_building_anything():
    # Nothing listens on port 1: were the check missing, the script would fail to connect
    # instead of building a directory in a real benchmark database.
    env = {**os.environ, "BENCH_DATABASE_URL": "postgres://postgres@127.0.0.1:1/handoff_bench"}
    result = run_script("search.py", "--rounds", "0", env=env, timeout=60)
    assert result.returncode == 2
    assert "--rounds must be 1 or more" in result.stderr
    assert result.stdout == ""


def test_search_benchmark_runs_each_size_in_its_database_and_prints_its_figures():
    settings = connection.settings_dict
    prefix = f"{settings['NAME']}_bench"
    databases = [f"{prefix}_600", f"{prefix}_300"]
    drop_databases(settings, databases)
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}/{prefix}",
    }
    try:
        result = run_script(
            "search.py",
            *("--sizes", "600,300", "--searches", "6", "--at", "2026-11-24T11:00-05:00"),
            env=env,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        out = result.stdout
        figures = {int(m["size"]): m for m in FIGURES.finditer(out)}
        assert set(figures) == {600, 300}, out
        # At most 8 statements a page at both sizes (the search page's bounded query count):
        # fewer once a search's words (and a box with many locations) were looked up before.
        assert all(6 <= int(m["queries"]) <= 8 for m in figures.values()), out
        assert int(figures[600]["matches"]) > 0, (
            out
        )  # the searches find services (results are read)
        # Each search replays its SQL once before its request and once after (two rounds; the
        # docstring of benchmarks/search.py says why), each replaying what its request ran.
        assert "6 searches, each at 600 and 300 services in turn, 2 rounds:" in out
        orders = re.findall(
            r"^ +request/SQL at p95 in each order \(6 of 6 searches measured in both\): request first "
            r"[\d.]+× \([\d.]+ / [\d.]+ ms\), SQL first [\d.]+× \([\d.]+ / [\d.]+ ms\)$",
            out,
            re.MULTILINE,
        )
        assert len(orders) == 2, out
        replays = re.findall(
            r"^ +SQL-first replays that ran as many statements as their request: (\d+) of (\d+)$",
            out,
            re.MULTILINE,
        )
        assert replays == [("6", "6"), ("6", "6")], out
        assert re.search(
            r"^growth of request p95 from 300 to 600 services: [\d.]+×$", out, re.MULTILINE
        ), out
        assert re.search(r"^targets at 600: request p95 [\d.]+ ms", out, re.MULTILINE), out
        # The plans, relayed from the largest size's worker.
        assert "-- the search statement" in out and "Execution Time:" in out, out
        # Each size was built in its own database.
        count = "SELECT count(*) FROM directory_service"
        built = []
        for name in databases:
            with connect(settings, name) as db:
                built.append(db.execute(count).fetchone()[0])
        assert built == [600, 300]

        # Where a request's time goes, on the directory just built at 300.
        parts = run_script(
            "search_parts.py",
            *("--size", "300", "--searches", "6", "--at", "2026-11-24T11:00-05:00"),
            env=env,
            timeout=300,
        )
        assert parts.returncode == 0, parts.stderr[-3000:]
        assert parts.stdout.startswith("300 services, 6 searches (ms, p50 / p95):\n"), parts.stdout
        for name in ("request", "SQL inside it", "Python part", "template", "result cards"):
            assert re.search(rf"^  {name}: [\d.]+ / [\d.]+$", parts.stdout, re.MULTILINE), (
                parts.stdout
            )
        assert re.search(r"^  page size: [\d.]+ kB on average$", parts.stdout, re.MULTILINE)
    finally:
        drop_databases(settings, databases)
