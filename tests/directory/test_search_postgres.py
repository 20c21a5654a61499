"""The PostgreSQL search: the ORM's answers, fresh after every edit, on plans that use indexes."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from directory.models import (
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
    ServiceNeed,
)
from directory.search import (
    BOX_PROBE_SQL,
    Point,
    SearchParams,
    bounding_box,
    box_probe_args,
    deferred_search_rows,
    search_services_orm,
    search_services_postgresql,
    search_statement,
    services_for_need_orm,
    services_for_need_postgresql,
    services_in_box,
    statement_settings_sql,
)
from directory.taxonomy import NEED_NAMES, TermTree, sdoh_mapping
from screening.instrument import SDOH_CATEGORIES
from tests.factories import LocationFactory, ScheduleFactory, directory_service

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the search rows, their triggers and the one-statement search are PostgreSQL "
        "only; on SQLite the search runs through the ORM, which test_search.py covers",
    ),
    pytest.mark.usefixtures("taxonomy"),
]

BOSTON = Point(42.3362, -71.0729)  # ZIP 02118
TUESDAY_NOON = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 12:00 in Boston
WEDNESDAY_2AM = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # 02:00 in Boston
MONDAY_3AM = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 03:00 in Boston, Sunday night's shift
TUESDAY_EVENING_LA = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)  # 20:30 Tuesday in Los Angeles
SUMMER_SATURDAY = datetime(2026, 7, 11, 14, 0, tzinfo=UTC)  # 10:00 in Boston


def north(miles: float) -> tuple[float, float]:
    return (BOSTON.latitude + miles / 69.055, BOSTON.longitude)


def east(miles: float) -> tuple[float, float]:
    return (BOSTON.latitude, BOSTON.longitude + miles / 51.3)


def hours(service: Service, byday: str, opens: int, closes: int, **fields) -> None:
    ScheduleFactory(
        service=service, byday=byday, opens_at=time(opens), closes_at=time(closes), **fields
    )


def add_location(service: Service, at: tuple[float, float]) -> None:
    location = LocationFactory(organization=service.organization, latitude=at[0], longitude=at[1])
    ServiceAtLocation.objects.create(service=service, location=location)


@pytest.fixture
def directory(db):
    """A small directory with every shape of data the search rows summarize."""
    pantry = directory_service(
        name="Weekly Food Pantry", terms=("food.food-pantry",), at=north(1), languages=("en", "es")
    )
    hours(pantry, "TU,TH", 10, 18)
    supper = directory_service(
        name="Community Supper",
        terms=("food.meals.community-meals",),
        at=north(3),
        languages=("en",),
    )
    hours(supper, "MO,TU,WE,TH,FR", 17, 19)
    shelter = directory_service(
        name="Night Shelter", terms=("emergency.emergency-shelter.night-shelter",), at=east(2)
    )
    hours(shelter, "MO,TU,WE,TH,FR,SA,SU", 19, 7)
    hotline = directory_service(name="Hotline", terms=("emergency",), languages=("en", "es", "ht"))
    hours(hotline, "MO,TU,WE,TH,FR,SA,SU", 0, 0)
    legal = directory_service(name="LA Legal Aid", terms=("legal",), at=(34.0522, -118.2437))
    hours(legal, "TU", 18, 21, timezone="America/Los_Angeles")
    market = directory_service(name="Summer Market", terms=("food",), at=north(2))
    hours(market, "SA", 9, 13, valid_from=date(2026, 6, 1), valid_to=date(2026, 9, 30))
    two_zones = directory_service(name="Two-zone Help", terms=("legal",), at=east(4))
    hours(two_zones, "TU", 11, 13)
    hours(two_zones, "TU", 9, 10, timezone="America/Chicago")
    chain = directory_service(
        name="Chain Pantry", terms=("food.food-pantry",), at=north(30), languages=("pt",)
    )
    for miles in (20, 12, 6.5, 25, 40):  # six locations: the nearest comes through the function
        add_location(chain, north(miles))
    hours(chain, "MO,WE,FR", 9, 13)
    hours(chain, "MO,WE,FR", 14, 18)
    pair = directory_service(
        name="Two-site Rides", terms=("transit.ride-programs",), at=east(9), maximum_age=17
    )
    add_location(pair, north(3.5))
    directory_service(
        name="Senior Meals", terms=("food.meals",), at=north(4), minimum_age=60, capacity="waitlist"
    )
    directory_service(name="Closed Clinic", terms=("food",), at=north(1), status="inactive")
    directory_service(
        name="Full House", terms=("housing",), at=north(2.5), capacity="not_accepting"
    )
    directory_service(name="Phone Only", terms=("housing",), at=north(2.5), accepts_referrals=False)
    twin_a = directory_service(name="Twin B", terms=("food",), at=east(1))
    twin_b = directory_service(name="Twin A", terms=("food",), organization=twin_a.organization)
    ServiceAtLocation.objects.create(
        service=twin_b, location=twin_a.service_at_locations.get().location
    )
    rng = random.Random(7)
    terms = ["food", "housing", "legal", "transit.ride-programs", "food.meals", "emergency"]
    for i in range(30):
        filler = directory_service(
            name=f"Service {i:02d}",
            terms=(rng.choice(terms),),
            at=north(rng.uniform(0.2, 15)),
            languages=tuple(rng.sample(["en", "es", "vi", "so"], k=rng.randint(0, 2))),
        )
        if rng.random() < 0.7:
            hours(
                filler,
                rng.choice(["MO,TU,WE,TH,FR", "TU,TH", "SA,SU"]),
                rng.randint(7, 11),
                rng.randint(13, 20),
            )


def summary(results) -> tuple:
    rows = [
        (
            s.name,
            s.distance,
            s.is_open_now,
            [(h.opens_at, h.closes_at) for h in s.todays_hours],
            s.has_hours,
            str(s.first_phone) if s.first_phone else None,
            [language.name for language in s.spoken_languages],
            s.organization.name,
            s.get_capacity_display(),
        )
        for s in results.services
    ]
    return (
        results.total,
        results.page,
        results.num_pages,
        results.sort,
        results.need_facets,
        results.language_facets,
        rows,
    )


def assert_same(params: SearchParams, now: datetime) -> None:
    fast = summary(search_services_postgresql(params, now))
    orm = summary(search_services_orm(params, now))
    assert fast[:6] == orm[:6], params
    assert [row[:1] + row[2:] for row in fast[6]] == [row[:1] + row[2:] for row in orm[6]], params
    for a, b in zip(fast[6], orm[6], strict=True):
        assert (a[1] is None) == (b[1] is None)
        if a[1] is not None:
            assert a[1] == pytest.approx(b[1], abs=1e-3)  # acos here, haversine there


PARAMS = [
    SearchParams(),
    SearchParams(page=2),
    SearchParams(page=9),
    SearchParams(q="pantry"),
    SearchParams(q="pantyr"),
    SearchParams(q="food"),
    SearchParams(q="community meals"),
    SearchParams(q="pan"),
    SearchParams(need="food-insecurity"),
    SearchParams(need="food-insecurity", language="es"),
    SearchParams(language="pt"),
    SearchParams(q="food", need="food-insecurity", origin=BOSTON, radius=10),
    SearchParams(origin=BOSTON, radius=1),
    SearchParams(origin=BOSTON, radius=5),
    SearchParams(origin=BOSTON, radius=10, sort="relevance", q="meals"),
    SearchParams(origin=BOSTON, radius=25, sort="distance"),
    SearchParams(origin=BOSTON, radius=50, page=2),
    SearchParams(q="rides", origin=BOSTON, radius=5),
    SearchParams(open_now=True),
    SearchParams(open_now=True, origin=BOSTON, radius=10),
    SearchParams(open_day=1),
    SearchParams(open_day=5),
    SearchParams(open_day=6, q="shelter"),
    SearchParams(age=15),
    SearchParams(age=70, accepting=True),
    SearchParams(accepting=True, need="housing-instability"),
]


@pytest.mark.parametrize(
    "now", [TUESDAY_NOON, WEDNESDAY_2AM, MONDAY_3AM, TUESDAY_EVENING_LA, SUMMER_SATURDAY]
)
def test_one_statement_search_answers_as_the_orm_does(directory, now):
    food = TermTree.load().id_of["food"]
    for params in [
        *PARAMS,
        SearchParams(term=food),
        SearchParams(term=food, open_now=True, q="pantry"),
    ]:
        assert_same(params, now)


@pytest.mark.parametrize("now", [TUESDAY_NOON, WEDNESDAY_2AM])
@pytest.mark.parametrize(
    ("need", "origin", "language"),
    [
        ("food-insecurity", BOSTON, "es"),
        ("food-insecurity", None, None),
        ("housing-instability", BOSTON, "pt"),
        ("transportation-insecurity", BOSTON, None),
    ],
)
def test_suggestions_for_a_need_are_the_orms(directory, need, origin, language, now):
    params = SearchParams(need=need, origin=origin, radius=25)

    fast = services_for_need_postgresql(params, language, 8, now)
    orm = services_for_need_orm(params, language, 8, now)

    assert [s.name for s in fast] == [s.name for s in orm]
    for a, b in zip(fast, orm, strict=True):
        assert (
            a.distance == pytest.approx(b.distance, abs=1e-3)
            if b.distance is not None
            else a.distance is None
        )


@pytest.mark.parametrize(
    "params",
    [
        SearchParams(q="food", need="food-insecurity", origin=BOSTON, radius=25, open_now=True),
        SearchParams(need="food-insecurity", language="es", open_now=True),
    ],
    ids=["words-near-a-place", "no-words"],
)
def test_a_statement_read_by_a_parallel_worker_answers_as_one_read_alone(directory, params):
    sql, args = search_statement(params, TUESDAY_NOON, tsquery="food:*" if params.q else None)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor.execute(sql, args)
        alone = cursor.fetchall()
        # A directory this small gets a worker only when one is made to cost nothing.
        for setting in (
            "parallel_setup_cost",
            "parallel_tuple_cost",
            "min_parallel_table_scan_size",
        ):
            cursor.execute(f"SET LOCAL {setting} = 0")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 1")
        cursor.execute("EXPLAIN (COSTS OFF) " + sql, args)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(sql, args)
        parallel = cursor.fetchall()

    assert "Workers Planned: 1" in plan, plan  # every function the statement calls is parallel safe
    assert alone, "the search found nothing to compare"
    assert sorted(map(repr, parallel)) == sorted(map(repr, alone))


@pytest.mark.parametrize("workers", [0, 1])
def test_search_statements_take_their_parallel_workers_from_the_settings(db, settings, workers):
    settings.SEARCH_PARALLEL_WORKERS = workers
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement_settings_sql())
        cursor.execute(
            "SELECT current_setting('jit'), current_setting('max_parallel_workers_per_gather')"
        )
        assert cursor.fetchone() == ("off", str(workers))


def test_a_box_with_few_locations_starts_from_them_and_answers_the_same(directory):
    box = bounding_box(BOSTON, 2)
    nearby = services_in_box(box)

    assert nearby is not None
    assert set(nearby) == set(
        ServiceAtLocation.objects.filter(
            location__latitude__range=box[:2], location__longitude__range=box[2:]
        ).values_list("service_id", flat=True)
    )
    assert_same(SearchParams(origin=BOSTON, radius=2, q="food"), TUESDAY_NOON)


def test_a_box_with_many_locations_checks_each_candidate_instead(directory, monkeypatch):
    monkeypatch.setattr("directory.search.FEW_LOCATIONS", 3)

    assert services_in_box(bounding_box(BOSTON, 10)) is None
    assert_same(SearchParams(origin=BOSTON, radius=10), TUESDAY_NOON)
    assert_same(SearchParams(origin=BOSTON, radius=3, need="food-insecurity"), TUESDAY_NOON)


def test_a_box_known_to_hold_many_locations_is_not_probed_again_and_still_finds_new_services(
    directory, monkeypatch
):
    monkeypatch.setattr("directory.search.FEW_LOCATIONS", 3)
    params = SearchParams(origin=BOSTON, radius=10, sort="distance")
    before = search_services_postgresql(params, TUESDAY_NOON).total

    directory_service(name="Opened this morning", at=north(0.5))
    with CaptureQueriesContext(connection) as captured:
        results = search_services_postgresql(params, TUESDAY_NOON)

    assert results.total == before + 1
    assert "Opened this morning" in [s.name for s in results.services]
    # No box probe (the statement itself reads locations for the page's rows only).
    assert not [q for q in captured.captured_queries if "WITH l AS" in q["sql"]]
    assert_same(params, TUESDAY_NOON)


def same_columns(built, loaded) -> None:
    """Each column ``built`` holds has the value and the Python type the ORM loads for it."""
    fields = [f for f in type(built)._meta.concrete_fields if f.attname in built.__dict__]
    assert fields, built
    for field in fields:
        value, expected = built.__dict__[field.attname], getattr(loaded, field.attname)
        assert (value, type(value)) == (expected, type(expected)), (built, field.attname)
    assert built._state.db == loaded._state.db and not built._state.adding


def test_a_page_of_results_holds_what_the_orm_loads(directory):
    # Whole-number coordinates: JSON writes 42.0 as 42, which must come back a float.
    whole = directory_service(name="Whole Degrees", terms=("food",), at=(42.0, -71.0))
    ScheduleFactory(service=whole, byday="TU", opens_at=time(9), closes_at=time(17, 30))
    Phone.objects.create(service=whole, number="617-555-0100", extension="12")
    Language.objects.create(service=whole, code="es", name="Spanish")

    services = [
        *search_services_postgresql(SearchParams(origin=BOSTON, radius=50), TUESDAY_NOON).services,
        *search_services_postgresql(SearchParams(q="whole degrees"), TUESDAY_NOON).services,
    ]

    assert len(services) == 21 and services[-1].name == "Whole Degrees"
    for service in services:
        loaded = Service.objects.select_related("organization").get(pk=service.pk)
        same_columns(service, loaded)
        same_columns(service.organization, loaded.organization)
        for schedule in service.todays_hours:
            same_columns(schedule, Schedule.objects.get(pk=schedule.pk))
        if service.first_phone is not None:
            same_columns(service.first_phone, Phone.objects.get(pk=service.first_phone.pk))
        for language in service.spoken_languages:
            same_columns(language, Language.objects.get(pk=language.pk))
        if service.place is not None:
            same_columns(service.place, Location.objects.get(pk=service.place.pk))
    place = services[-1].place
    assert (place.latitude, place.longitude) == (42.0, -71.0)
    assert isinstance(place.latitude, float)


# --- the search rows follow every edit ------------------------------------------------------


def search_rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM directory_servicesearch ORDER BY service_id")
        return cursor.fetchall()


def names(params: SearchParams, now: datetime = TUESDAY_NOON) -> list[str]:
    return [s.name for s in search_services_postgresql(params, now).services]


def test_edits_show_in_search_at_once(directory):
    pantry = Service.objects.get(name="Weekly Food Pantry")
    open_now = SearchParams(open_now=True, q="pantry")
    assert names(open_now) == ["Weekly Food Pantry"]

    Schedule.objects.filter(service=pantry).update(closes_at=time(11))
    assert names(open_now) == []
    hours(pantry, "TU", 11, 14)
    assert names(open_now) == ["Weekly Food Pantry"]

    pantry.set_capacity(Service.Capacity.NOT_ACCEPTING, by=None)
    assert "Weekly Food Pantry" not in names(SearchParams(accepting=True, q="pantry"))

    Language.objects.create(service=pantry, code="vi", name="Vietnamese")
    assert names(SearchParams(language="vi", q="pantry")) == ["Weekly Food Pantry"]

    Location.objects.filter(service_at_locations__service=pantry).update(latitude=north(8)[0])
    found = search_services_postgresql(
        SearchParams(q="pantry", origin=BOSTON, radius=10), TUESDAY_NOON
    )
    [moved] = [s for s in found.services if s.pk == pantry.pk]
    assert moved.distance == pytest.approx(8, abs=0.02)

    pantry.name = "Weekly Grocery Table"
    pantry.save()
    pantry.refresh_search_document()
    assert names(SearchParams(q="grocery")) == ["Weekly Grocery Table"]

    ServiceAtLocation.objects.filter(service=pantry).delete()
    assert names(SearchParams(q="grocery", origin=BOSTON, radius=50)) == []

    pantry.delete()
    assert names(SearchParams(q="grocery")) == []


def test_rows_kept_by_the_triggers_equal_a_rebuild(directory):
    Schedule.objects.filter(byday="TU,TH").delete()
    Language.objects.filter(code="es").update(code="fr")
    Service.objects.filter(name__startswith="Service 1").update(status="inactive")
    kept = search_rows()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT directory_servicesearch_refresh(ARRAY(SELECT id FROM directory_service))"
        )

    assert search_rows() == kept
    assert len(kept) == Service.objects.count()


def test_truncating_a_source_table_rebuilds_the_rows(directory):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the fixture's deferred foreign-key checks
        cursor.execute("TRUNCATE directory_schedule")

    assert names(SearchParams(open_day=1)) == []
    assert names(SearchParams(open_now=True), WEDNESDAY_2AM) == []


def test_every_need_a_service_can_meet_has_its_own_bit(db):
    """The search counts and filters needs by bits (migration 0009); a category without one
    would be missing from the need facet and find nothing, so a new one needs a migration."""
    categories = sorted(
        set(NEED_NAMES) | set(sdoh_mapping()) | set(SDOH_CATEGORIES)
    )  # screening's too
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code, directory_need_mask(ARRAY[code]) FROM unnest(%s::text[]) AS code",
            [categories],
        )
        masks = dict(cursor.fetchall())

    assert sorted(masks) == categories
    assert all(mask > 0 and mask & (mask - 1) == 0 for mask in masks.values()), (
        masks
    )  # one bit each
    assert len(set(masks.values())) == len(categories)  # none shared


def test_need_facet_counts_every_need_of_a_service(directory):
    service = Service.objects.get(name="Weekly Food Pantry")
    ServiceNeed.objects.filter(service=service).delete()
    ServiceNeed.objects.bulk_create(
        ServiceNeed(service=service, category=code)
        for code in ("sdoh-category-unspecified", "food-insecurity")
    )  # the first and the last bit
    pantry = SearchParams(q="weekly pantry")

    found = search_services_postgresql(pantry, TUESDAY_NOON)

    assert found.need_facets == [("food-insecurity", 1), ("sdoh-category-unspecified", 1)]
    assert found.need_facets == search_services_orm(pantry, TUESDAY_NOON).need_facets
    assert names(SearchParams(q="weekly pantry", need="sdoh-category-unspecified")) == [
        "Weekly Food Pantry"
    ]


# --- plans --------------------------------------------------------------------------------


FILLER = (
    "Help with applications, referrals and follow-up for residents of the county; call ahead,"
    " bring an ID if you have one, and ask about transport, interpreters and childcare. Staff"
    " speak several languages, can meet people at home or at the library, and keep evening"
    " hours on Thursdays for working families; walk-ins welcome while space lasts."
)


@pytest.fixture
def nationwide(db):
    """2,000 services, each at its own place across the continental US; few say zucchini."""
    rng = random.Random(2026)
    with deferred_search_rows():
        locations, organization = nationwide_rows(rng)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE directory_location")
        cursor.execute("ANALYZE directory_serviceatlocation")
        cursor.execute("ANALYZE directory_servicesearch")
    return locations


def nationwide_rows(rng: random.Random) -> tuple[list[Location], Organization]:
    organization = Organization.objects.create(name="Nationwide Network")
    locations = Location.objects.bulk_create(
        Location(
            organization=organization,
            name=f"Site {i}",
            latitude=round(rng.uniform(30, 48), 5),
            longitude=round(rng.uniform(-122, -72), 5),
        )
        for i in range(2000)
    )
    services = Service.objects.bulk_create(
        Service(
            organization=organization,
            name=f"Service {i}",
            search_document=f"Service {i} " + ("zucchini garden" if i % 200 == 0 else FILLER),
        )
        for i in range(2000)
    )
    ServiceAtLocation.objects.bulk_create(
        ServiceAtLocation(service=service, location=location)
        for service, location in zip(services, locations, strict=True)
    )
    return locations, organization


def explain(sql: str, args) -> str:
    with connection.cursor() as cursor:
        # At a test's few thousand rows a sequential scan is cheaper and the planner rightly
        # takes it. With it ruled out, the plan shows which indexes the statement's conditions
        # can use: a change that made them unusable (a function around the words, the box
        # on an expression) fails here. benchmarks/search.py prints the plans the planner
        # chooses by itself at 100,000 services.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, args)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = on")
        return plan


def test_plans_use_the_word_index_and_the_coordinate_index(nationwide):
    site = nationwide[0]
    origin = Point(site.latitude, site.longitude)
    box = bounding_box(origin, 10)

    probe = explain(BOX_PROBE_SQL, box_probe_args(box))
    nearby = services_in_box(box)
    sql, args = search_statement(
        SearchParams(q="zucchini", origin=origin, radius=10),
        TUESDAY_NOON,
        tsquery="zucchini:*",
        nearby=nearby,
    )
    near = explain(sql, args)
    words, words_args = search_statement(
        SearchParams(q="zucchini"), TUESDAY_NOON, tsquery="zucchini:*"
    )
    anywhere = explain(words, words_args)

    assert "dir_location_latlng_idx" in probe, probe  # the box on the indexed coordinates
    assert nearby is not None and len(nearby) < 50
    assert "directory_servicesearch_pkey" in near, near  # then only the box's services
    assert "dir_servicesearch_vector_gin" in anywhere, anywhere  # words through the GIN index


# --- bulk loads ---------------------------------------------------------------------------


def search_row_updates() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_xact_user_tables"
            " WHERE relname = 'directory_servicesearch'"
        )
        return cursor.fetchone()[0]


def test_bulk_writes_in_deferred_mode_write_each_search_row_once(db):
    from directory.generator import generate_directory

    before = search_row_updates()
    with deferred_search_rows():
        generate_directory(300, seed=3)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM directory_servicesearch")
            assert cursor.fetchone()[0] == 0  # noted, not yet written
    kept = search_rows()

    assert search_row_updates() == before  # inserted once each, never rewritten
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT directory_servicesearch_refresh(ARRAY(SELECT id FROM directory_service))"
        )
    assert search_rows() == kept
    assert len(kept) == 300
    assert names(SearchParams(q="pantry", origin=Point(42.3362, -71.0729), radius=25))


def test_a_large_deferred_load_gives_the_planner_statistics_before_the_refresh(db):
    """Without statistics for rows written in the same transaction, the refresh was planned
    as a scan of every location per service (~25 minutes at 100,000 services; 155 s with)."""
    with deferred_search_rows():
        nationwide_rows(random.Random(7))  # 2,000 services: past ANALYZE_BEFORE_REFRESH
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)",
            [["directory_location", "directory_serviceatlocation", "directory_service"]],
        )
        estimates = dict(cursor.fetchall())
    # ANALYZE inside the load's transaction counted its own new rows, all of them here.
    assert estimates == {
        "directory_location": Location.objects.count(),
        "directory_serviceatlocation": ServiceAtLocation.objects.count(),
        "directory_service": Service.objects.count(),
    }
    assert len(search_rows()) == 2000


def test_generating_and_importing_write_each_search_row_once(db, tmp_path):
    from directory.generator import generate_directory
    from directory.hsds.exporter import export_directory
    from directory.hsds.importer import import_path

    # (counted as differences: the statistics are the transaction's, which may hold earlier work)
    before = search_row_updates()
    generate_directory(60, seed=5)  # no deferred block around it: it defers by itself
    assert search_row_updates() == before
    assert len(search_rows()) == Service.objects.count() == 60
    kept = search_rows()

    export_directory(tmp_path)
    Service.objects.all().delete()
    assert search_rows() == []
    before = search_row_updates()  # (the delete above rewrote rows as it took children away)
    import_path(tmp_path)
    assert search_row_updates() == before  # the import inserted each row once, never rewrote one
    assert [row[1:] for row in search_rows()] == [row[1:] for row in kept]


def test_an_error_inside_deferred_mode_leaves_nothing_behind(db):
    with pytest.raises(RuntimeError), deferred_search_rows():
        directory_service(name="Half-written Pantry")
        raise RuntimeError

    assert not Service.objects.filter(name="Half-written Pantry").exists()
    directory_service(name="Whole Pantry")  # and the triggers refresh at once again
    assert names(SearchParams(q="pantry")) == ["Whole Pantry"]


def test_a_bulk_refresh_writes_the_rows_of_one_branch_together(db):
    """A word's matches mostly share a taxonomy branch; written together, they share pages
    (migration 0013). Services created interleaved are written branch by branch."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE directory_servicesearch")  # a new, empty file: rows in write order
    branches = [
        "work.reentry-employment",
        "housing.help-find-housing.housing-vouchers",
        "emergency.emergency-shelter.family-shelter",
        None,
    ]
    with deferred_search_rows():
        created = [
            (code, directory_service(name=f"{code} {round_}", terms=(code,) if code else ()).pk)
            for round_ in range(3)
            for code in branches
        ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT service_id FROM directory_servicesearch ORDER BY ctid")
        written = [service_id for (service_id,) in cursor.fetchall()]

    by_branch = sorted(created, key=lambda item: (item[0] is None, item[0] or "", item[1]))
    assert written == [pk for _code, pk in by_branch]
    assert written != [pk for _code, pk in created]


def test_reorder_search_rows_writes_rows_edited_one_at_a_time_back_in_branch_order(db):
    """Edits write their rows wherever there is room; manage.py reorder_search_rows puts
    every row back in branch order, and the rows, the search and later edits are as before."""
    branches = ["work.reentry-employment", "housing.help-find-housing.housing-vouchers", None]
    with deferred_search_rows():
        created = [
            (
                code,
                directory_service(name=f"Service {code} {round_}", terms=(code,) if code else ()),
            )
            for round_ in range(3)
            for code in branches
        ]
    for _code, service in reversed(created):  # edits, one at a time: rows move to free space
        service.set_capacity(Service.Capacity.WAITLIST, by=None)
    by_branch = [
        service.pk
        for _code, service in sorted(
            created, key=lambda item: (item[0] is None, item[0] or "", item[1].pk)
        )
    ]

    def written() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT service_id FROM directory_servicesearch ORDER BY ctid")
            return [service_id for (service_id,) in cursor.fetchall()]

    assert written() != by_branch
    rows = search_rows()
    housing = names(SearchParams(q="housing vouchers"))
    out = StringIO()

    call_command("reorder_search_rows", stdout=out)

    assert written() == by_branch
    assert search_rows() == rows
    assert names(SearchParams(q="housing vouchers")) == housing != []
    assert re.search(
        r"^Wrote 9 search rows in taxonomy order in [\d.]+ s: \d+ pages before, \d+ after\.$",
        out.getvalue(),
        re.MULTILINE,
    ), out.getvalue()
    service = Service.objects.get(pk=created[0][1].pk)
    service.name = "Renamed After Reordering"
    service.save()
    service.refresh_search_document()
    assert names(SearchParams(q="renamed reordering")) == ["Renamed After Reordering"]
