"""Pages do not grow a query per referral, message or event."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import referral

pytestmark = pytest.mark.django_db


def _count(client, url) -> int:
    client.get(url)  # warm up: the first request after sign-in touches the session once more
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _more(patient, service, referrer, staff, n):
    for i in range(n):
        made = referral(patient, service, referrer)
        made.post_message(by=referrer, organization=patient.organization, body=f"note {i}")
        if i % 2:
            made.apply("accept", by=staff, organization=service.organization)


def test_inbox_queries_do_not_grow_with_referrals(
    client, patient, service, referrer, staff, django_assert_max_num_queries
):
    _more(patient, service, referrer, staff, 2)
    client.force_login(staff)
    url = reverse("referrals:inbox")
    few = _count(client, url)
    _more(patient, service, referrer, staff, 15)
    assert _count(client, url) == few
    with django_assert_max_num_queries(14):
        client.get(url)


def test_referral_list_queries_do_not_grow(
    client, patient, service, referrer, staff, django_assert_max_num_queries
):
    _more(patient, service, referrer, staff, 2)
    client.force_login(referrer)
    url = reverse("referrals:list")
    few = _count(client, url)
    _more(patient, service, referrer, staff, 15)
    assert _count(client, url) == few
    with django_assert_max_num_queries(14):
        client.get(url)


def test_detail_queries_do_not_grow_with_messages_and_events(
    client, sent, referrer, staff, django_assert_max_num_queries
):
    client.force_login(referrer)
    url = reverse("referrals:detail", args=[sent.pk])
    few = _count(client, url)
    for i in range(10):
        sent.post_message(by=referrer, organization=sent.referring_organization, body=f"m{i}")
        sent.post_message(by=staff, organization=sent.receiving_organization, body=f"r{i}")
    assert _count(client, url) == few
    with django_assert_max_num_queries(20):
        client.get(url)


def test_opening_a_new_referral_reads_the_loaded_rows_only_once(client, sent, staff):
    """The first opening runs the receive transition, its notification, audit line and live
    signal; they reuse the patient, service and organizations the page loaded (the locked row
    borrows them) and the read mark is one upsert."""
    client.force_login(staff)
    client.get(reverse("referrals:inbox"))
    url = reverse("referrals:detail", args=[sent.pk])
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    sent.refresh_from_db()
    assert sent.status == "received"
    tables = [
        q["sql"].split(" FROM ")[1].split()[0]
        for q in first.captured_queries
        if q["sql"].startswith("SELECT") and " FROM " in q["sql"]
    ]
    for table in ('"patients_patient"', '"directory_service"', '"directory_organization"'):
        assert table not in tables, f"{table} read again"
    assert len(first.captured_queries) <= 22
    with CaptureQueriesContext(connection) as again:
        assert client.get(url).status_code == 200
    assert len(again.captured_queries) <= 12


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL query plans")
def test_the_new_and_overdue_tabs_can_walk_their_index_in_order():
    """The New and Overdue tabs (soonest due first) read referral_inbox_due in order and stop
    after a page: no sort of every waiting referral. Sequential scans are ruled out, since at
    a test's few rows the planner rightly prefers them (benchmarks/inbox.py shows the real
    figures at 10,000 referrals)."""
    from django.utils import timezone

    from directory.models import Organization
    from referrals.models import Referral
    from referrals.views import INBOX_TABS, PAGE_SIZE, _with_list_data

    org = Organization(pk=1)
    received = Referral.objects.received_by(org)
    for qs in (
        received.filter(status__in=INBOX_TABS["new"][1]),
        received.overdue(timezone.now()),
    ):
        page = _with_list_data(qs).order_by("due_at", "-pk")[:PAGE_SIZE]
        sql, params = page.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "referral_inbox_due" in plan, plan
        assert "Sort" not in plan.split("referral_inbox_due")[0], plan
