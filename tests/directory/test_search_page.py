"""The search page runs a fixed, small number of queries, however many services match."""

from __future__ import annotations

from datetime import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import ScheduleFactory, directory_service

pytestmark = pytest.mark.usefixtures("taxonomy")

SEARCH = {
    "q": "pantry",
    "need": "food-insecurity",
    "zip": "02118",
    "radius": "10",
    "open": "now",
    "language": "es",
}
# PostgreSQL: the words, the box probe, the statement's settings and the statement (page,
# display data, total, facets). SQLite: the word spellings (once), the ORM's count, page,
# three prefetches and two facet queries.
SEARCH_QUERIES = 4 if connection.vendor == "postgresql" else 8
# The session and user, the memberships, the form's taxonomy choices, the header's
# unread notifications.
PAGE_QUERIES = 5


def pantries(organization, count: int) -> None:
    for i in range(count):
        service = directory_service(
            name=f"Pantry {i}",
            organization=organization,
            terms=("food.food-pantry",),
            at=(42.34, -71.07),
            languages=("en", "es"),
        )
        ScheduleFactory(
            service=service, byday="MO,TU,WE,TH,FR,SA,SU", opens_at=time(0), closes_at=time(0)
        )
        ScheduleFactory(service=service, byday="SA", opens_at=time(9), closes_at=time(12))


def search_page_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("directory:search"), SEARCH)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_search_page_runs_a_fixed_number_of_queries(
    client, referrer, food_bank, django_assert_max_num_queries
):
    pantries(food_bank, 3)
    client.force_login(referrer)
    search_page_queries(client)  # the first request after signing in also updates the session
    few = search_page_queries(client)
    pantries(food_bank, 30)

    with django_assert_max_num_queries(SEARCH_QUERIES + PAGE_QUERIES):
        response = client.get(reverse("directory:search"), SEARCH)

    assert search_page_queries(client) == few
    assert response.context["results"].total == 33
    assert len(response.context["results"].services) == 20


def test_the_results_fragment_runs_no_more_queries_than_the_page(
    client, referrer, food_bank, django_assert_max_num_queries
):
    pantries(food_bank, 25)
    client.force_login(referrer)
    search_page_queries(client)

    with django_assert_max_num_queries(SEARCH_QUERIES + PAGE_QUERIES):
        response = client.get(reverse("directory:search"), SEARCH, HTTP_HX_REQUEST="true")

    assert response.content.decode().lstrip().startswith('<div id="results">')
    assert response.content.decode().count('data-testid="result"') == 20


def test_the_search_keeps_its_lookups_in_the_process_memory_not_the_shared_cache(
    client, referrer, food_bank
):
    """A word's spellings and the taxonomy's list are read on every search page: they stay in
    the process's own memory ("local"), not in the cache every process shares ("default",
    Redis when REDIS_URL is set), which would cost a round trip each."""
    from django.core.cache import caches

    pantries(food_bank, 3)
    client.force_login(referrer)
    search_page_queries(client)

    for key in ("directory:term-choices:en", "directory:spellings:pantry"):
        assert caches["local"].get(key) is not None, key
        assert caches["default"].get(key) is None, key
