"""Inbox and referral page benchmark (a benchmark, not a timed test).

    .venv/bin/python benchmarks/inbox.py [--sizes 100,10000] [--requests 200]

Uses its own PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/handoff_bench_inbox; created if missing). For each size
it gives one community organization that many referrals (a realistic spread of statuses,
due dates, messages and timeline events, from one clinic's 2,000 patients), then requests,
through the full Django stack with the test client as a signed-in staff member, the inbox
(rotating over its four tabs) and referral pages (random referrals). Prints p50/p95 per page
and the number of SQL queries each page ran, which must not depend on the size.
Target: p95 ≤ 80 ms for both pages at 10,000 referrals.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import ensure_database  # noqa: E402

BENCH_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/handoff_bench_inbox"
)
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handoff.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")

STATUS_MIX = [  # (status, share)
    ("requested", 0.08),
    ("received", 0.07),
    ("accepted", 0.10),
    ("in-progress", 0.15),
    ("on-hold", 0.02),
    ("completed", 0.40),
    ("rejected", 0.10),
    ("cancelled", 0.05),
    ("failed", 0.03),
]
CLOSED = {"completed", "rejected", "cancelled", "failed"}


def build(size: int):
    """One clinic, one food bank, ``size`` referrals between them. Returns (staff, ids)."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Membership, Role, User
    from directory.models import Organization, Service
    from patients.models import Consent, Patient
    from referrals.models import Message, Referral, ReferralEvent

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE directory_organization, accounts_user, referrals_referral CASCADE")
    rng = random.Random(2026)
    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        clinic = Organization.objects.create(name="Bench Clinic", kind=Organization.Kind.REFERS)
        food = Organization.objects.create(name="Bench Food Bank", kind=Organization.Kind.RECEIVES)
        referrer = User.objects.create_user(email="ref@bench.example.org", password="x")
        staff = User.objects.create_user(email="staff@bench.example.org", password="x")
        Membership.objects.create(user=referrer, organization=clinic, role=Role.REFERRER)
        Membership.objects.create(user=staff, organization=food, role=Role.CBO_STAFF)
        services = [
            Service.objects.create(organization=food, name=f"Pantry {i}", response_time_days=2)
            for i in range(5)
        ]
        patients = Patient.objects.bulk_create(
            Patient(
                organization=clinic,
                given_name=f"Given{i}",
                family_name=f"Family{i}",
                birth_date=timezone.localdate() - timedelta(days=9000 + i),
                zip_code="02118",
                phone="617-555-0100",
            )
            for i in range(min(2000, size))
        )
        consents = Consent.objects.bulk_create(
            Consent(
                patient=p,
                organization=food,
                method="verbal",
                recorded_by=referrer,
                given_at=now,
                expires_on=timezone.localdate() + timedelta(days=365),
            )
            for p in patients
        )
        statuses = rng.choices([s for s, _ in STATUS_MIX], [w for _, w in STATUS_MIX], k=size)
        referrals = []
        for i, status in enumerate(statuses):
            sent_at = now - timedelta(days=rng.uniform(0, 180))
            closed = status in CLOSED
            referrals.append(
                Referral(
                    patient=patients[i % len(patients)],
                    need_category="food-insecurity",
                    referring_organization=clinic,
                    referred_by=referrer,
                    service=services[i % len(services)],
                    receiving_organization=food,
                    status=status,
                    consent=consents[i % len(consents)],
                    contact_method="phone",
                    language="en",
                    shared={"contact": {"phone": "617-555-0100", "method_label": "Phone"}},
                    sent_at=sent_at,
                    due_at=sent_at + timedelta(days=3),
                    closed_at=sent_at + timedelta(days=10) if closed else None,
                    status_reason="other"
                    if status in ("rejected", "cancelled", "failed", "on-hold")
                    else "",
                    outcome="met" if status == "completed" else "",
                    outcome_provided="Groceries" if status == "completed" else "",
                )
            )
        referrals = Referral.objects.bulk_create(referrals, batch_size=2000)
        events, messages = [], []
        for referral in referrals:
            events.append(
                ReferralEvent(
                    referral=referral,
                    kind="status",
                    actor=referrer,
                    actor_organization=clinic,
                    from_status="draft",
                    to_status="requested",
                    created_at=referral.sent_at,
                )
            )
            if referral.status != "requested":
                events.append(
                    ReferralEvent(
                        referral=referral,
                        kind="status",
                        actor=staff,
                        actor_organization=food,
                        from_status="requested",
                        to_status=referral.status,
                        created_at=referral.sent_at + timedelta(hours=5),
                    )
                )
            for k in range(rng.choice([0, 0, 1, 2, 4])):
                author, org = (referrer, clinic) if k % 2 == 0 else (staff, food)
                messages.append(
                    Message(
                        referral=referral,
                        author=author,
                        author_organization=org,
                        body=f"Message {k}",
                        created_at=referral.sent_at + timedelta(hours=k + 1),
                    )
                )
        ReferralEvent.objects.bulk_create(events, batch_size=5000)
        Message.objects.bulk_create(messages, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"  built {size} referrals ({len(events)} events, {len(messages)} messages) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return staff, [r.pk for r in referrals]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(staff, ids: list[int], requests: int) -> dict[str, tuple[float, float, int]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(staff)
    rng = random.Random(7)
    tabs = ["new", "active", "overdue", "closed"]
    pages = {
        "inbox": [f"/referrals/inbox/?tab={tabs[i % 4]}" for i in range(requests)],
        "referral": [f"/referrals/{rng.choice(ids)}/" for _ in range(requests)],
    }
    results = {}
    for name, urls in pages.items():
        for url in urls[:10]:  # warm up: connections, template caches
            client.get(url)
        times = []
        queries = []
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries.append(len(ctx.captured_queries))
        counts = f"{int(statistics.median(queries))} typical, {max(queries)} max"
        results[name] = (statistics.median(times), percentile(times, 95), counts)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,10000")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    import django

    django.setup()
    ensure_database()
    sizes = [int(s) for s in args.sizes.split(",")]
    table = {}
    for size in sizes:
        print(f"== {size} referrals")
        staff, ids = build(size)
        table[size] = measure(staff, ids, args.requests)
        for name, (p50, p95, queries) in table[size].items():
            print(f"  {name:<9} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   queries {queries}")
        print("  (a referral's first opening by the receiving side also marks it seen: the max)")
    print("\nsummary (target: p95 ≤ 80 ms; query counts independent of size)")
    for name in ("inbox", "referral"):
        row = "  ".join(
            f"{size}: p95 {table[size][name][1]:.1f} ms / {table[size][name][2]} queries"
            for size in sizes
        )
        print(f"  {name:<9} {row}")


if __name__ == "__main__":
    main()
