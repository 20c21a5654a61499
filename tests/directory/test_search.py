from __future__ import annotations

import importlib
from datetime import UTC, datetime, time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from directory.models import Service, TaxonomyTerm
from directory.search import (
    MOST_FORMS,
    Point,
    SearchParams,
    Spellings,
    haversine_miles,
    search_services,
    tsquery_text,
    zip_point,
)
from directory.taxonomy import TermTree
from tests.factories import ScheduleFactory, UserFactory, directory_service

pytestmark = pytest.mark.usefixtures("taxonomy")

BOSTON = Point(42.3362, -71.0729)  # ZIP 02118
# A Wednesday. 03:30 UTC is 23:30 Tuesday in Boston and 20:30 Tuesday in Los Angeles.
WEDNESDAY_0330_UTC = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)


def names(results) -> list[str]:
    return [s.name for s in results.services]


def north_of(origin: Point, miles: float) -> tuple[float, float]:
    return (origin.latitude + miles / 69.055, origin.longitude)


def test_nearer_services_come_first_when_sorted_by_distance():
    directory_service(name="Far", at=north_of(BOSTON, 8))
    directory_service(name="Near", at=north_of(BOSTON, 1))
    directory_service(name="Middle", at=north_of(BOSTON, 4))

    results = search_services(SearchParams(origin=BOSTON, radius=10, sort="distance"))

    assert names(results) == ["Near", "Middle", "Far"]
    assert results.services[0].distance == pytest.approx(1, abs=0.02)


def test_radius_includes_a_service_just_inside_and_excludes_one_just_outside():
    directory_service(name="Inside", at=north_of(BOSTON, 4.95))
    directory_service(name="Outside", at=north_of(BOSTON, 5.05))

    results = search_services(SearchParams(origin=BOSTON, radius=5))

    assert names(results) == ["Inside"]


def test_distance_is_to_the_nearest_of_a_services_locations():
    from directory.models import ServiceAtLocation
    from tests.factories import LocationFactory

    service = directory_service(name="Two sites", at=north_of(BOSTON, 9))
    near = LocationFactory(latitude=north_of(BOSTON, 2)[0], longitude=BOSTON.longitude)
    ServiceAtLocation.objects.create(service=service, location=near)

    [found] = search_services(SearchParams(origin=BOSTON, radius=10)).services

    assert found.distance == pytest.approx(2, abs=0.02)


def test_east_west_radius_edge_uses_true_distance_not_the_box():
    # At 42° north a degree of longitude is ~51 miles; the box is wider than the circle.
    east = (BOSTON.latitude, BOSTON.longitude + 5.1 / 51.3)
    directory_service(name="East", at=east)
    miles = haversine_miles(BOSTON, Point(*east))

    assert names(search_services(SearchParams(origin=BOSTON, radius=miles + 0.01))) == ["East"]
    assert names(search_services(SearchParams(origin=BOSTON, radius=miles - 0.01))) == []


def test_zip_codes_resolve_offline_and_unknown_ones_do_not():
    assert zip_point("02118") == Point(42.3362, -71.0729)
    assert zip_point("00000") is None


def test_a_term_finds_services_under_its_descendants():
    directory_service(name="Pantry", terms=("food.food-pantry.client-choice-pantry",))
    directory_service(name="Meals", terms=("food.meals.home-delivered-meals",))
    directory_service(name="Rides", terms=("transit.ride-programs",))
    food = TermTree.load().id_of["food"]

    assert names(search_services(SearchParams(term=food))) == ["Meals", "Pantry"]


def test_open_now_includes_an_overnight_shelter_after_midnight():
    shelter = directory_service(name="Night shelter")
    ScheduleFactory(service=shelter, byday="TU", opens_at=time(22), closes_at=time(6))
    day = directory_service(name="Day program")
    ScheduleFactory(service=day, byday="MO,TU,WE,TH,FR", opens_at=time(9), closes_at=time(17))
    # 02:00 Wednesday in Boston: the Tuesday night shift is still open.
    now = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)

    results = search_services(SearchParams(open_now=True), now=now)

    assert names(results) == ["Night shelter"]
    assert results.services[0].is_open_now


def test_open_now_excludes_an_overnight_schedule_the_morning_after_it_closed():
    shelter = directory_service(name="Night shelter")
    ScheduleFactory(service=shelter, byday="TU", opens_at=time(22), closes_at=time(6))
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 07:00 Wednesday in Boston

    assert names(search_services(SearchParams(open_now=True), now=now)) == []


def test_open_now_uses_each_schedules_own_time_zone():
    boston = directory_service(name="Boston evening")
    ScheduleFactory(service=boston, byday="TU", opens_at=time(18), closes_at=time(21))
    la = directory_service(name="LA evening")
    ScheduleFactory(
        service=la,
        byday="TU",
        opens_at=time(18),
        closes_at=time(21),
        timezone="America/Los_Angeles",
    )

    # 23:30 in Boston (closed), 20:30 in Los Angeles (open).
    results = search_services(SearchParams(open_now=True), now=WEDNESDAY_0330_UTC)

    assert names(results) == ["LA evening"]


def test_around_the_clock_schedule_is_open_at_midnight():
    always = directory_service(name="Hotline")
    ScheduleFactory(
        service=always, byday="MO,TU,WE,TH,FR,SA,SU", opens_at=time(0), closes_at=time(0)
    )
    midnight_boston = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)

    assert names(search_services(SearchParams(open_now=True), now=midnight_boston)) == ["Hotline"]


def test_open_on_a_chosen_day():
    weekend = directory_service(name="Saturday market")
    ScheduleFactory(service=weekend, byday="SA", opens_at=time(9), closes_at=time(12))
    directory_service(name="Weekdays")

    assert names(search_services(SearchParams(open_day=5))) == ["Saturday market"]


def test_language_filter_keeps_services_speaking_it():
    directory_service(name="Bilingual", languages=("en", "es"))
    directory_service(name="English only", languages=("en",))

    results = search_services(SearchParams(language="es"))

    assert names(results) == ["Bilingual"]
    # The language facet counts ignore the language filter itself, so people can switch.
    assert dict(results.language_facets) == {"en": 2, "es": 1}


def test_age_filter_respects_minimum_and_maximum_ages():
    directory_service(name="Youth", maximum_age=17)
    directory_service(name="Seniors", minimum_age=60)
    directory_service(name="Everyone")

    assert names(search_services(SearchParams(age=15))) == ["Everyone", "Youth"]
    assert names(search_services(SearchParams(age=70))) == ["Everyone", "Seniors"]
    assert names(search_services(SearchParams(age=17))) == ["Everyone", "Youth"]


def test_accepting_filter_leaves_out_full_services_and_those_not_taking_referrals():
    directory_service(name="Open door")
    directory_service(name="Waitlist", capacity="waitlist")
    directory_service(name="Full", capacity="not_accepting")
    directory_service(name="Phone only", accepts_referrals=False)

    assert names(search_services(SearchParams(accepting=True))) == ["Open door", "Waitlist"]


def test_need_finds_services_without_any_words_and_counts_facets():
    directory_service(name="Pantry", terms=("food.food-pantry",))
    directory_service(name="Meals", terms=("food.meals.community-meals",))
    directory_service(name="Shelter", terms=("emergency.emergency-shelter.night-shelter",))

    results = search_services(SearchParams(need="food-insecurity"))

    assert names(results) == ["Meals", "Pantry"]
    facets = dict(results.need_facets)
    assert facets["food-insecurity"] == 2
    assert facets["homelessness"] == 1


def test_words_match_service_organization_and_term_names_and_rank_names_first():
    directory_service(name="Community Supper", terms=("food.meals.community-meals",))
    directory_service(name="Pantry Plus", description="Groceries every week.")
    directory_service(name="Legal clinic")

    assert names(search_services(SearchParams(q="pantry"))) == ["Pantry Plus"]
    assert names(search_services(SearchParams(q="community meals"))) == ["Community Supper"]
    both = search_services(SearchParams(q="groceries"))
    assert names(both) == ["Pantry Plus"]


@pytest.mark.parametrize(
    ("q", "wanted", "only_inside_a_word"),
    [
        ("rent", "Rental Assistance", "Parenting Classes"),
        ("wic", "WIC Enrollment", "Ipswich Family Center"),
        ("ebt", "EBT Card Help", "Debt Management"),
    ],
)
def test_words_match_at_the_start_of_a_word_not_inside_one(q, wanted, only_inside_a_word):
    directory_service(name=only_inside_a_word)
    directory_service(name=wanted)

    assert names(search_services(SearchParams(q=q))) == [wanted]


def test_a_service_named_by_the_word_comes_before_one_that_only_describes_it():
    # "Parenting" holds "rent" but does not start with it: the name does not count.
    directory_service(name="Parenting Classes", description="Advice on rent and bills.")
    directory_service(name="Rental Assistance")

    assert names(search_services(SearchParams(q="rent"))) == [
        "Rental Assistance",
        "Parenting Classes",
    ]


def test_a_word_finds_services_under_a_term_whose_ancestor_it_names():
    directory_service(name="Corner Market", terms=("food.food-pantry.client-choice-pantry",))
    directory_service(name="Meals on Wheels", terms=("food.meals.home-delivered-meals",))
    directory_service(name="Eye Exams")

    assert names(search_services(SearchParams(q="food"))) == ["Corner Market", "Meals on Wheels"]
    assert names(search_services(SearchParams(q="pantry"))) == ["Corner Market"]


def test_renaming_or_moving_a_term_in_the_admin_changes_what_finds_its_services(client):
    market = directory_service(
        name="Corner Market", terms=("food.food-pantry.client-choice-pantry",)
    )
    directory_service(name="Bus passes", terms=("transit.help-pay-for-transit.bus-passes",))
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    tree = TermTree.load()
    pantry = TaxonomyTerm.objects.get(code="food.food-pantry")

    def edit(term: TaxonomyTerm, **changes) -> None:
        data = {
            "code": term.code,
            "name": term.name,
            "description": term.description,
            "parent": term.parent_id or "",
            "vocabulary": term.vocabulary,
            "term_uri": term.term_uri,
            **changes,
        }
        response = client.post(reverse("admin:directory_taxonomyterm_change", args=[term.pk]), data)
        assert response.status_code == 302, response.content

    edit(pantry, name="Grocery Shelf")  # the parent of the service's term
    assert names(search_services(SearchParams(q="grocery"))) == ["Corner Market"]
    assert search_services(SearchParams(q="pantry")).total == 1  # its own term says Pantry

    edit(TaxonomyTerm.objects.get(pk=pantry.pk), parent=tree.id_of["transit"])
    assert names(search_services(SearchParams(q="transportation"))) == [
        "Bus passes",
        "Corner Market",
    ]
    assert names(search_services(SearchParams(q="food"))) == []
    assert set(market.needs.values_list("category", flat=True)) == {"transportation-insecurity"}

    client.post(reverse("admin:directory_taxonomyterm_delete", args=[pantry.pk]), {"post": "yes"})
    assert search_services(SearchParams(q="grocery")).total == 0
    assert not market.needs.exists()


def test_small_typos_still_find_the_service():
    directory_service(name="Weekly Food Pantry")

    assert names(search_services(SearchParams(q="pantyr"))) == ["Weekly Food Pantry"]


def test_a_whole_word_finds_its_forms_and_a_word_being_typed_finds_longer_words():
    directory_service(name="Housing Help Desk")
    directory_service(name="Household Goods Bank")
    directory_service(name="Medical Rides")
    directory_service(name="Medicaid Enrollment")
    directory_service(name="Weekly Food Pantry")

    # A word the directory has, typed whole: not the longer words it begins.
    assert names(search_services(SearchParams(q="housing"))) == ["Housing Help Desk"]
    assert names(search_services(SearchParams(q="medical"))) == ["Medical Rides"]
    # Still being typed: every word it may become.
    assert names(search_services(SearchParams(q="hous"))) == [
        "Household Goods Bank",
        "Housing Help Desk",
    ]
    assert names(search_services(SearchParams(q="medic"))) == [
        "Medicaid Enrollment",
        "Medical Rides",
    ]
    # Another form of a word still finds it.
    assert names(search_services(SearchParams(q="pantries"))) == ["Weekly Food Pantry"]


def test_the_last_word_is_searched_as_the_words_it_begins_or_else_as_a_prefix():
    few = {"rent": Spellings.of(["rent"], ["rent", "rental", "renters"])}
    many = {"h": Spellings.of(["h"], [f"h{i}" for i in range(MOST_FORMS + 1)])}
    words = {"rent": Spellings.of(["rent"], ["rent", "rental"]), "food": Spellings.of(["food"])}

    assert tsquery_text(["rent"], few) == "(rent | rental | renters)"
    assert tsquery_text(["h"], many) == "(h:*)"  # a letter typed: too many words begin with it
    # Only the last word may be unfinished.
    assert tsquery_text(["rent", "food"], words) == "(rent) & (food:*)"


def test_a_word_searched_before_still_finds_services_added_since():
    # The word's spellings are kept a while after the first search (directory.search
    # SPELLINGS_SECONDS); the word as typed is searched all the same.
    directory_service(name="Weekly Food Pantry")
    assert search_services(SearchParams(q="diapers")).total == 0

    directory_service(name="Diaper bank", description="Diapers and wipes for babies.")

    assert names(search_services(SearchParams(q="diapers"))) == ["Diaper bank"]

    # A mistyped word kept with its correction still finds a service that has the word as typed.
    assert names(search_services(SearchParams(q="pantyr"))) == ["Weekly Food Pantry"]
    directory_service(name="Pantyr Market")
    assert "Pantyr Market" in names(search_services(SearchParams(q="pantyr")))


def test_a_mistyped_word_is_looked_up_once_and_corrected_every_time():
    directory_service(name="Weekly Food Pantry")
    with CaptureQueriesContext(connection) as first:
        assert names(search_services(SearchParams(q="pantyr"))) == ["Weekly Food Pantry"]
    with CaptureQueriesContext(connection) as again:
        assert names(search_services(SearchParams(q="pantyr"))) == ["Weekly Food Pantry"]

    def lexicon_queries(captured):
        return [q for q in captured.captured_queries if "searchword" in q["sql"]]

    assert lexicon_queries(first)
    assert lexicon_queries(again) == []


def test_results_come_in_pages_of_twenty():
    for i in range(45):
        directory_service(name=f"Service {i:02d}")

    first = search_services(SearchParams())
    last = search_services(SearchParams(page=3))

    assert (first.total, first.num_pages, len(first.services)) == (45, 3, 20)
    assert names(last) == [f"Service {i}" for i in range(40, 45)]


def test_inactive_services_are_never_found():
    directory_service(name="Closed for good", status="defunct")

    assert search_services(SearchParams()).total == 0


MIGRATION_0012 = importlib.import_module("directory.migrations.0012_search_documents_with_needs")


@pytest.mark.parametrize(
    "words, need",
    [
        ("food insecurity", "food-insecurity"),
        ("housing instability", "housing-instability"),
        ("utility insecurity", "utility-insecurity"),
        ("financial insecurity", "financial-insecurity"),
        ("transportation insecurity", "transportation-insecurity"),
        ("intimate partner violence", "intimate-partner-violence"),
        ("financial strain", "financial-insecurity"),  # the screening tools' names
        ("social isolation", "social-connection"),
        ("interpersonal safety", "intimate-partner-violence"),
    ],
)
def test_the_words_of_a_need_find_the_services_meeting_it(words, need):
    """A screening result's or an EHR's words for a need ("food insecurity") find its services
    (before, no document held "insecurity", and the search found nothing)."""
    from directory.taxonomy import TermTree

    tree = TermTree.load()
    code = next(c for c in sorted(tree.id_of) if tree.terms_for_need(need) >= {tree.id_of[c]})
    directory_service(name="Meets it", terms=(code,))
    directory_service(name="Bicycle Repair Cafe")

    assert names(search_services(SearchParams(q=words))) == ["Meets it"]


def _service_meeting(need: str, name: str):
    tree = TermTree.load()
    code = next(c for c in sorted(tree.id_of) if tree.terms_for_need(need) >= {tree.id_of[c]})
    return directory_service(name=name, terms=(code,))


@pytest.mark.parametrize(
    "words, needs",
    [
        ("comida", ["food-insecurity"]),
        ("Alimentación", ["food-insecurity"]),
        ("alimentacion", ["food-insecurity"]),  # typed without its accent
        ("alimento", ["food-insecurity"]),  # the list has "alimentos"
        ("comedores", ["food-insecurity"]),  # the list has "comedor"
        ("vivienda", ["housing-instability", "homelessness", "inadequate-housing"]),
        ("transporte", ["transportation-insecurity"]),
        ("luz", ["utility-insecurity"]),
        ("maltrato", ["intimate-partner-violence", "elder-abuse"]),
    ],
)
def test_a_spanish_word_for_a_need_finds_the_services_meeting_it(words, needs):
    """The directory is written in English; a Spanish speaker's word for a need finds its
    services (before, "comida" found nothing, or services spelt like it)."""
    for need in needs:
        _service_meeting(need, f"Meets {need}")
    directory_service(name="Bicycle Repair Cafe", description="Comedy nights and repairs.")
    directory_service(name="Partner Dance Class", description="Abuse of the dance floor.")

    results = search_services(SearchParams(q=words))

    assert sorted(names(results)) == sorted(f"Meets {need}" for need in needs)
    assert results.spellings[words.lower()][1:]  # what was searched for it, for the page's note


def test_a_spanish_word_for_a_need_still_finds_services_using_the_word_itself():
    _service_meeting("food-insecurity", "Pantry")
    directory_service(name="Comida Para Todos")
    directory_service(name="Eye Exams")

    assert sorted(names(search_services(SearchParams(q="comida")))) == [
        "Comida Para Todos",
        "Pantry",
    ]
    # With another word, every word must still match.
    assert names(search_services(SearchParams(q="comida pantry"))) == ["Pantry"]


def test_other_languages_need_words_name_needs_and_languages_the_portal_has():
    from django.conf import settings

    from directory.taxonomy import NEED_NAMES, NEED_WORDS_IN_LANGUAGE

    assert set(NEED_WORDS_IN_LANGUAGE) <= {code for code, _name in settings.LANGUAGES} - {"en"}
    for by_need in NEED_WORDS_IN_LANGUAGE.values():
        assert set(by_need) <= set(NEED_NAMES)


def test_migration_0012_adds_the_needs_to_older_documents_as_a_rebuild_would():
    from django.apps import apps

    directory_service(name="Corner Market", terms=("food.food-pantry",))
    directory_service(name="Eye Exams")
    rebuilt = dict(Service.objects.values_list("pk", "search_document"))
    assert "Food insecurity" in " ".join(rebuilt.values())
    for pk, document in rebuilt.items():  # as written before 0012
        Service.objects.filter(pk=pk).update(
            search_document=document.replace(" Food insecurity", "")
        )
    assert search_services(SearchParams(q="food insecurity")).total == 0

    MIGRATION_0012.forward(apps, None)

    assert dict(Service.objects.values_list("pk", "search_document")) == rebuilt
    assert names(search_services(SearchParams(q="food insecurity"))) == ["Corner Market"]


def test_migration_0010_rewrites_older_documents_as_a_rebuild_would():
    from django.apps import apps

    migration = importlib.import_module("directory.migrations.0010_search_documents_with_ancestors")
    market = directory_service(
        name="Corner Market", terms=("food.food-pantry.client-choice-pantry",)
    )
    directory_service(name="Eye Exams")
    rebuilt = dict(Service.objects.values_list("pk", "search_document"))
    Service.objects.filter(pk=market.pk).update(
        search_document="Corner Market Client-Choice Pantry"  # as written before 0010
    )
    assert search_services(SearchParams(q="food")).total == 0

    migration.forward(apps, None)
    assert names(search_services(SearchParams(q="food"))) == ["Corner Market"]
    MIGRATION_0012.forward(apps, None)  # then the needs' names, as migrating does

    assert dict(Service.objects.values_list("pk", "search_document")) == rebuilt


def test_migration_0011_names_the_transit_branch_transportation_and_rewrites_its_services():
    from django.apps import apps

    from directory.models import TaxonomyTerm, refresh_search_documents

    migration = importlib.import_module("directory.migrations.0011_transportation_term")
    directory_service(
        name="Rides to Appointments",
        terms=("transit.medical-transportation.non-emergency-medical-transportation",),
    )
    directory_service(name="Bus Passes Program", terms=("transit.help-pay-for-transit",))
    directory_service(name="Corner Pantry", terms=("food.food-pantry",))
    top = TaxonomyTerm.objects.get(vocabulary="handoff", code="transit")
    assert top.name == "Transportation"  # as shipped now
    rebuilt = dict(Service.objects.values_list("pk", "search_document"))
    TaxonomyTerm.objects.filter(pk=top.pk).update(name="Transit")  # as shipped before
    refresh_search_documents(Service.objects.all())
    for pk, document in Service.objects.values_list("pk", "search_document"):  # before 0012
        Service.objects.filter(pk=pk).update(
            search_document=document.replace(" Transportation insecurity", "")
        )
    assert names(search_services(SearchParams(q="transportation"))) == ["Rides to Appointments"]

    migration.forward(apps, None)
    MIGRATION_0012.forward(apps, None)

    top.refresh_from_db()
    assert top.name == "Transportation"
    assert dict(Service.objects.values_list("pk", "search_document")) == rebuilt
    assert sorted(names(search_services(SearchParams(q="transportation")))) == [
        "Bus Passes Program",
        "Rides to Appointments",
    ]


def test_migration_0011_keeps_a_name_the_directory_chose_for_the_branch():
    from django.apps import apps

    from directory.models import TaxonomyTerm

    migration = importlib.import_module("directory.migrations.0011_transportation_term")
    TaxonomyTerm.objects.filter(vocabulary="handoff", code="transit").update(name="Getting Around")

    migration.forward(apps, None)

    assert TaxonomyTerm.objects.get(vocabulary="handoff", code="transit").name == "Getting Around"


@pytest.mark.skipif(connection.vendor == "postgresql", reason="on PostgreSQL it reorders the rows")
def test_reorder_search_rows_says_there_is_nothing_to_do_without_postgresql(db):
    out = StringIO()
    call_command("reorder_search_rows", stdout=out)
    assert out.getvalue().startswith("Nothing to do: search rows are kept on PostgreSQL only")
