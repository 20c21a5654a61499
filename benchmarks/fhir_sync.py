"""EHR sync benchmark: referral changes to a real FHIR server (a benchmark, not a timed test).

    .venv/bin/python benchmarks/fhir_sync.py [--referrals 1000] [--changes 1000]
                                             [--producers 1] [--interval 1]

Uses its own PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/handoff_bench_fhir; created if missing), starts the test
FHIR server (node tests/fhir_server/server.mjs on a free loopback port) and ONE task worker
(`manage.py db_worker --queue-name '*'`, polling every --interval seconds when idle, as in
production; email goes to Django's dummy backend). A clinic with an EHR connection to that
server has sent --referrals referrals to a food bank, and their Consents, ServiceRequests
and Tasks are on the server (not measured). Then two runs of --changes status changes made
by the food bank (seen, accepted, a step, started, another step):

1. backlog: the worker is stopped while the changes are made, one per referral (so no
   change replaces another in the queue: each is one PUT), then started; throughput is
   changes divided by the time from its start to the last Task being readable.
2. live: the worker runs while --producers processes make the changes as fast as the
   portal lets them (each change is a full transition: row lock, timeline, notifications,
   audit, live update, outbox); each change's lag is the time from its commit until its Task
   is readable on the server at that version or a later one; throughput is changes divided
   by the time from the first change to the last being readable.

A poller reads the server's change feed (GET $changes, a test-server control written after
each write completes) every 20 ms, and the portal version each Task carries (meta.tag
urn:handoff:version), to see when a change is readable.
Targets: ≥ 100 changes per second with one worker; p95 lag ≤ 2 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import ensure_database  # noqa: E402

BENCH_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/handoff_bench_fhir"
)
ENV = {
    "DATABASE_URL": BENCH_URL,
    "DEBUG": "false",
    "SECRET_KEY": "benchmark-only-secret-key-not-for-production-use-0123456789",
    "ALLOWED_HOSTS": "127.0.0.1",
    "LOG_LEVEL": "WARNING",
    "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
    "DJANGO_SETTINGS_MODULE": "handoff.settings",
    "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
}
os.environ.update(ENV)
# The in-memory channel layer: live updates are not what is measured here.
os.environ.pop("REDIS_URL", None)
FHIR_SERVER = ROOT / "tests" / "fhir_server"
VERSION_TAG = "urn:handoff:version"


def start_fhir_server() -> tuple[subprocess.Popen, str]:
    node = shutil.which("node")
    if node is None or not (FHIR_SERVER / "node_modules" / "@medplum" / "fhir-router").is_dir():
        sys.exit("The FHIR test server needs node and `make fhir-server` first.")
    process = subprocess.Popen(
        [node, str(FHIR_SERVER / "server.mjs"), "--port", "0"],
        cwd=FHIR_SERVER,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    line = process.stdout.readline().strip()
    if not line.startswith("listening on "):
        process.kill()
        sys.exit(f"The FHIR test server did not start: {line!r}")
    return process, f"http://127.0.0.1:{line.split()[-1]}/"


def start_worker(interval: float) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "db_worker",
            "--queue-name",
            "*",
            "--interval",
            str(interval),
            "--no-startup-delay",
            "--no-reload",
            "--verbosity",
            "0",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def build(base_url: str, count: int):
    """A clinic with an EHR connection, a food bank, and ``count`` sent referrals."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Membership, Role, User
    from directory.models import Organization, Service
    from interop.models import EhrConnection
    from patients.models import Consent, Patient
    from referrals.models import Referral

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE directory_organization, accounts_user, django_tasks_database_dbtaskresult CASCADE"
        )
    with transaction.atomic():
        clinic = Organization.objects.create(name="Bench Clinic", kind=Organization.Kind.REFERS)
        food = Organization.objects.create(name="Bench Food Bank", kind=Organization.Kind.RECEIVES)
        referrer = User.objects.create_user(email="ref@bench.example.org", password="x")
        staff = User.objects.create_user(email="staff@bench.example.org", password="x")
        Membership.objects.create(user=referrer, organization=clinic, role=Role.REFERRER)
        Membership.objects.create(user=staff, organization=food, role=Role.CBO_STAFF)
        service = Service.objects.create(organization=food, name="Pantry", response_time_days=2)
        EhrConnection.objects.create(
            organization=clinic, base_url=base_url, mrn_system="http://bench.example.org/mrn"
        )
        patients = Patient.objects.bulk_create(
            Patient(
                organization=clinic,
                given_name=f"Given{i}",
                family_name=f"Family{i}",
                birth_date=timezone.localdate() - timedelta(days=9000 + i),
                mrn=f"B{i:05d}",
                phone="617-555-0100",
            )
            for i in range(count)
        )
        consents = Consent.objects.bulk_create(
            Consent(
                patient=p,
                organization=food,
                method="verbal",
                recorded_by=referrer,
                given_at=timezone.now(),
                expires_on=timezone.localdate() + timedelta(days=365),
            )
            for p in patients
        )
    referrals = []
    for patient, consent in zip(patients, consents, strict=True):
        made = Referral.objects.create(
            patient=patient,
            need_category="food-insecurity",
            referring_organization=clinic,
            referred_by=referrer,
            service=service,
            receiving_organization=food,
            consent=consent,
            contact_method="phone",
            language="en",
        )
        made.apply("send", by=referrer, organization=clinic)
        referrals.append(made)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics after a bulk load, as autovacuum would
    return staff, food, referrals


def wait_until_sent(timeout: float) -> bool:
    from interop.models import OutboxMessage

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not OutboxMessage.objects.filter(state="pending").exists():
            return True
        time.sleep(0.2)
    return False


class Poller(threading.Thread):
    """Watches the FHIR server's change feed (the test server's GET $changes, appended after
    each write completes): the first moment each (Task, version) is readable there."""

    def __init__(self, base_url: str):
        super().__init__(daemon=True)
        import requests

        self.session = requests.Session()
        self.base_url = base_url
        self.since = 0
        self.seen: dict[str, list[tuple[int, float]]] = {}
        self.latest: dict[str, int] = {}
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                feed = self.session.get(f"{self.base_url}$changes?since={self.since}", timeout=10)
                feed = feed.json()
            except Exception:  # the server is busy; the next round will see it
                time.sleep(0.02)
                continue
            now = time.time()
            with self.lock:
                for item in feed["changes"]:
                    if item["resourceType"] != "Task":
                        continue
                    key = next(
                        i["value"] for i in item["identifier"] if i["system"] == "urn:handoff:task"
                    )
                    tags = (item.get("meta") or {}).get("tag") or []
                    version = int(next(t["code"] for t in tags if t["system"] == VERSION_TAG))
                    if version > self.latest.get(key, 0):
                        self.latest[key] = version
                        self.seen.setdefault(key, []).append((version, now))
                self.since = feed["last"]
            time.sleep(0.02)

    def readable_at(self, key: str, version: int) -> float | None:
        with self.lock:
            return next((t for v, t in self.seen.get(key, []) if v >= version), None)


def change(referral, step: str, staff, food) -> tuple[str, int, float]:
    from django.utils import timezone

    if step.startswith("step:"):
        referral.set_step(by=staff, organization=food, step=step[5:], intake_at=timezone.now())
    else:
        referral.apply(step, by=staff, organization=food)
    return str(referral.identifier), referral.version, time.time()


def _produce(ids: list[int], step: str, out) -> None:
    """One producer process: its share of the changes, each a full portal transition."""
    from accounts.models import User
    from directory.models import Organization
    from referrals.models import Referral

    staff = User.objects.get(email="staff@bench.example.org")
    food = Organization.objects.get(name="Bench Food Bank")
    referrals = Referral.objects.in_bulk(ids)
    out.send([change(referrals[pk], step, staff, food) for pk in ids])
    out.close()


def make_changes(ids: list[int], step: str, producers: int) -> list[tuple[str, int, float]]:
    """A change ``step`` on each referral, by ``producers`` processes in parallel."""
    import multiprocessing

    from handoff.db import close_connections_before_fork

    close_connections_before_fork()  # each process opens its own
    context = multiprocessing.get_context("fork")
    pipes, processes = [], []
    for n in range(producers):
        receiving, sending = context.Pipe(duplex=False)
        process = context.Process(target=_produce, args=(ids[n::producers], step, sending))
        process.start()
        pipes.append(receiving)
        processes.append(process)
    changes = []
    for pipe in pipes:
        changes += pipe.recv()
    for process in processes:
        process.join()
    return sorted(changes, key=lambda c: c[2])


def wait_readable(poller: Poller, changes, timeout: float) -> list[float]:
    """The moment each change is readable on the FHIR server."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        arrived = [poller.readable_at(key, version) for key, version, _t in changes]
        if all(arrived):
            return arrived
        time.sleep(0.05)
    missing = sum(1 for key, version, _t in changes if poller.readable_at(key, version) is None)
    sys.exit(f"{missing} changes never became readable on the FHIR server in {timeout:.0f} s.")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--referrals", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--producers", type=int, default=1)
    parser.add_argument("--interval", type=float, default=1.0, help="the worker's idle poll (s)")
    args = parser.parse_args()
    if args.changes > args.referrals:
        sys.exit("One change per referral in each run: --referrals must be at least --changes.")
    import django

    django.setup()
    ensure_database()
    fhir, base_url = start_fhir_server()
    worker = None
    try:
        started = time.perf_counter()
        _staff, _food, referrals = build(base_url, args.referrals)
        ids = [r.pk for r in referrals[: args.changes]]
        print(f"built {len(referrals)} sent referrals in {time.perf_counter() - started:.1f} s")
        worker = start_worker(args.interval)
        started = time.perf_counter()
        if not wait_until_sent(900):
            sys.exit("The first sync did not finish in 15 minutes.")
        print(
            f"first sync (Patient found or made, Consent, ServiceRequest, Task for each): "
            f"{time.perf_counter() - started:.1f} s"
        )
        poller = Poller(base_url)
        poller.start()

        # 1. A backlog: the worker is down while the changes are made.
        stop(worker)
        worker = None
        changes = make_changes(ids, "receive", args.producers)
        time.sleep(1)
        began = time.time()
        worker = start_worker(args.interval)
        arrived = wait_readable(poller, changes, 600)
        backlog = len(changes) / (max(arrived) - began)
        steady = (len(changes) - 1) / (max(arrived) - min(arrived))
        print(
            f"\n1. backlog of {len(changes)} changes (one per referral), one worker started: "
            f"{backlog:.0f} changes/s readable on the FHIR server counting the worker's start "
            f"({min(arrived) - began:.1f} s to the first), {steady:.0f}/s from the first to the "
            "last  (target ≥ 100)"
        )

        # 2. Live: the worker runs while the portal makes the changes.
        changes = make_changes(ids, "accept", args.producers)
        arrived = wait_readable(poller, changes, 600)
        poller.stopping.set()
        lags = [a - t for a, (_k, _v, t) in zip(arrived, changes, strict=True)]
        made_in = changes[-1][2] - changes[0][2]
        live = len(changes) / (max(arrived) - changes[0][2])
        print(
            f"2. live: {len(changes)} changes by {args.producers} portal processes in "
            f"{made_in:.1f} s ({len(changes) / made_in:.0f}/s), one worker (idle poll "
            f"{args.interval:g} s):"
        )
        print(f"   throughput to readable on the FHIR server: {live:.0f} changes/s")
        print(
            f"   lag: p50 {statistics.median(lags) * 1000:.0f} ms, "
            f"p95 {percentile(lags, 95) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms  "
            "(target p95 ≤ 2000 ms)"
        )
        report()
    finally:
        if worker is not None:
            stop(worker)
        stop(fhir)


def report() -> None:
    from interop.models import OutboxMessage

    states = {
        s: OutboxMessage.objects.filter(state=s).count()
        for s in ("sent", "superseded", "pending", "failed", "rejected")
    }
    print(f"   outbox: {states}")


if __name__ == "__main__":
    main()
