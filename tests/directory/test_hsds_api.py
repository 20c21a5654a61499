"""The read-only HSDS API: paging shape, filters, errors, nesting, bounded queries, OpenAPI."""

from __future__ import annotations

import datetime
import json
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from directory.hsds import urls as hsds_urls
from directory.hsds.api import OPENAPI_FILE
from directory.models import Phone, Schedule, Service, TaxonomyTerm
from directory.search import SearchParams, search_services
from tests.factories import ClinicFactory, ScheduleFactory, directory_service

pytestmark = pytest.mark.usefixtures("taxonomy")


def api(client, name: str, *args, **params):
    return client.get(reverse(f"hsds_api:{name}", args=args), params)


@pytest.fixture
def pantry(food_bank):
    service = directory_service(
        name="Weekly Food Pantry",
        organization=food_bank,
        terms=("food.food-pantry",),
        at=(42.3399, -71.0752),
        languages=("en", "es"),
    )
    ScheduleFactory(
        service=service, byday="TU,TH", opens_at=datetime.time(10), closes_at=datetime.time(18)
    )
    Phone.objects.create(service=service, number="617-555-0142", type="voice")
    return service


@pytest.fixture
def five_services(food_bank):
    return [
        directory_service(
            name=f"Service {i}",
            organization=food_bank,
            terms=("food.food-pantry",),
            at=(42.3, -71.1),
        )
        for i in range(5)
    ]


# --- root and OpenAPI -----------------------------------------------------------------------


def test_root_says_which_hsds_version_and_where_the_openapi_file_is(client, db):
    data = api(client, "root").json()

    assert data["version"] == "3.0"
    assert data["openapi_url"] == "http://testserver/api/hsds/openapi.json"
    assert data["profile"].startswith("https://")


def test_the_api_is_public_and_read_only(client, pantry):
    assert api(client, "services").status_code == 200  # nobody signed in
    assert client.head(reverse("hsds_api:services")).status_code == 200
    response = client.post(reverse("hsds_api:services"))
    assert response.status_code == 405


def api_addresses() -> list[str]:
    """Every address of the API (an unknown id for the two that take one)."""
    return [
        reverse(f"hsds_api:{p.name}", args=[uuid.uuid4()] if p.pattern.converters else [])
        for p in hsds_urls.urlpatterns
        if isinstance(p, URLPattern) and p.name != "unknown"
    ]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_method_that_would_change_something_is_a_json_405_naming_the_allowed_ones(method, db):
    client = Client(enforce_csrf_checks=True)  # as a real client: no CSRF token
    addresses = api_addresses()
    assert len(addresses) == 8
    for address in addresses:
        response = getattr(client, method)(address)

        assert response.status_code == 405, address
        assert response["Allow"] == "GET, HEAD, OPTIONS"
        assert response.json() == {
            "error": f"this API is read-only: {method.upper()} is not allowed; use GET",
            "status": 405,
        }


def test_options_names_the_methods_and_answers_a_browsers_cors_preflight(db):
    client = Client(enforce_csrf_checks=True)
    for address in api_addresses():
        response = client.options(
            address,
            headers={
                "Origin": "https://other-directory.example.org",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )

        assert response.status_code == 204, address
        assert response.content == b""
        assert response["Allow"] == "GET, HEAD, OPTIONS"
        assert response["Access-Control-Allow-Origin"] == "*"
        assert response["Access-Control-Allow-Methods"] == "GET, HEAD"
        assert response["Access-Control-Allow-Headers"] == "authorization"
        assert response["Access-Control-Max-Age"] == "86400"


def test_an_address_with_a_slash_at_the_end_is_a_json_404_naming_the_right_one(client, db):
    response = client.get("/api/hsds/services/")

    assert response.status_code == 404
    assert response.json() == {
        "error": "there is nothing at /api/hsds/services/: the address is /api/hsds/services, "
        "without the slash at the end",
        "status": 404,
    }


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_address_that_is_not_part_of_the_api_is_a_json_404(method, db):
    response = getattr(Client(enforce_csrf_checks=True), method)("/api/hsds/programs")

    assert response.status_code == 404
    assert response.json() == {
        "error": "there is nothing at /api/hsds/programs; /api/hsds/openapi.json lists what "
        "this API offers",
        "status": 404,
    }


def test_the_openapi_file_is_valid_json_and_lists_every_path_served(client, db):
    document = json.loads(OPENAPI_FILE.read_text())
    served = api(client, "openapi").json()

    assert served == document
    assert document["openapi"].startswith("3.")
    paths = {
        "/" + str(p.pattern).replace("<str:hsds_id>", "{id}") if str(p.pattern) else "/"
        for p in hsds_urls.urlpatterns
        if isinstance(p, URLPattern) and p.name != "unknown"
    }
    assert set(document["paths"]) == paths
    for spec in document["paths"].values():
        assert spec["get"]["responses"]["200"]
        # Every address answers other methods with 405, and the document says so.
        assert spec["get"]["responses"]["405"] == {
            "$ref": "#/components/responses/MethodNotAllowed"
        }
        for parameter in spec["get"].get("parameters", []):
            name = parameter["$ref"].rsplit("/", 1)[1] if "$ref" in parameter else None
            assert name is None or name in document["components"]["parameters"]


# --- paging ---------------------------------------------------------------------------------


def test_services_are_paged_in_the_hsds_shape(client, five_services):
    first = api(client, "services", per_page=2).json()
    last = api(client, "services", per_page=2, page=3).json()

    assert {k: v for k, v in first.items() if k != "contents"} == {
        "total_items": 5,
        "total_pages": 3,
        "page_number": 1,
        "size": 2,
        "first_page": True,
        "last_page": False,
        "empty": False,
    }
    assert [s["name"] for s in first["contents"]] == ["Service 0", "Service 1"]
    assert (last["size"], last["first_page"], last["last_page"], last["empty"]) == (
        1,
        False,
        True,
        False,
    )
    assert [s["name"] for s in last["contents"]] == ["Service 4"]


def test_a_page_past_the_end_is_empty(client, five_services):
    data = api(client, "services", page=9).json()

    assert (
        data["total_items"],
        data["page_number"],
        data["size"],
        data["empty"],
        data["contents"],
    ) == (5, 9, 0, True, [])


def test_no_services_is_an_empty_first_page(client, db):
    data = api(client, "services").json()

    assert (
        data["total_items"],
        data["total_pages"],
        data["empty"],
        data["first_page"],
        data["last_page"],
    ) == (0, 0, True, True, True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page": "abc"}, "page must be a whole number of 1 or more"),
        ({"page": "0"}, "page must be a whole number of 1 or more"),
        ({"per_page": "0"}, "per_page must be a whole number from 1 to 500"),
        ({"per_page": "501"}, "per_page must be a whole number from 1 to 500"),
        ({"full": "maybe"}, "full must be true or false"),
        ({"taxonomy_term_id": "food"}, "taxonomy_term_id must be an HSDS id (a UUID)"),
        (
            {"modified_after": "yesterday"},
            "modified_after must be a date or date-time such as 2026-01-31T12:00:00Z",
        ),
        ({"postcode": "02118"}, "searching by postcode is not supported by this API"),
        (
            {"format": "xml"},
            "format=xml is not supported: this API answers in JSON only (format=json, the default)",
        ),
        (
            {"format": "ndjson"},
            "format=ndjson is not supported: this API answers in JSON only (format=json, the default)",
        ),
    ],
)
def test_bad_parameters_are_a_400_with_a_json_error(client, pantry, params, message):
    response = api(client, "services", **params)

    assert response.status_code == 400
    assert response.json() == {"error": message, "status": 400}


def test_every_list_checks_its_paging_parameters(client, pantry):
    for name in ("services", "organizations", "taxonomy_terms", "service_at_locations"):
        response = api(client, name, per_page="many")
        assert response.status_code == 400, name
        assert "per_page" in response.json()["error"]


# --- services -------------------------------------------------------------------------------


def test_a_service_is_fully_nested(client, pantry):
    data = api(client, "service", pantry.hsds_id).json()

    assert data["id"] == str(pantry.hsds_id)
    assert data["organization"]["name"] == "Eastside Food Bank"
    assert data["organization_id"] == str(pantry.organization.hsds_id)
    assert [p["number"] for p in data["phones"]] == ["617-555-0142"]
    assert sorted(lang["code"] for lang in data["languages"]) == ["en", "es"]
    assert (
        data["schedules"][0]["byday"] == "TU,TH" and data["schedules"][0]["opens_at"] == "10:00:00"
    )
    location = data["service_at_locations"][0]["location"]
    assert (location["latitude"], location["addresses"][0]["city"]) == (42.3399, "Boston")
    term = data["attributes"][0]["taxonomy_term"]
    assert (term["code"], data["attributes"][0]["link_entity"]) == ("food.food-pantry", "service")
    assert not any(key.startswith("handoff_") for key in data)  # only HSDS fields


def test_an_unknown_service_is_a_json_404(client, pantry):
    for hsds_id in (uuid.uuid4(), "not-a-uuid"):
        response = api(client, "service", hsds_id)
        assert response.status_code == 404
        assert response.json()["error"] == f"there is no service with the id {hsds_id}"


def test_a_term_filter_includes_the_services_under_the_terms_below_it(client, food_bank):
    child_care = directory_service(
        name="Little Steps", organization=food_bank, terms=("care.child-care",)
    )
    visitors = directory_service(
        name="Friendly Visitors", terms=("care.senior-services.friendly-visitors",)
    )
    directory_service(name="Bus passes", terms=("transit.help-pay-for-transit.bus-passes",))
    care = TaxonomyTerm.objects.get(vocabulary="handoff", code="care")

    def ids(name: str, **params) -> set[str]:
        return {s["id"] for s in api(client, name, **params).json()["contents"]}

    assert ids("services", taxonomy_term_id=care.hsds_id) == {
        str(child_care.hsds_id),
        str(visitors.hsds_id),
    }
    assert ids("service_at_locations", taxonomy_term_id=care.hsds_id) == set()  # no places
    assert ids("organizations", taxonomy_term_id=care.hsds_id) == {
        str(food_bank.hsds_id),
        str(visitors.organization.hsds_id),
    }
    assert ids("services", taxonomy_term_id=uuid.uuid4()) == set()


@pytest.mark.parametrize("words", ["food", "fod", "rent", "wic", "pantries", "meals food"])
def test_search_finds_the_services_the_directory_search_page_finds(client, food_bank, words):
    directory_service(name="Corner Market", terms=("food.food-pantry.client-choice-pantry",))
    directory_service(name="Meals on Wheels", terms=("food.meals.home-delivered-meals",))
    directory_service(name="Weekly Food Pantry", organization=food_bank)
    directory_service(name="Parenting Classes", description="Advice on rent and bills.")
    directory_service(name="Rental Assistance")
    directory_service(name="Ipswich Family Center")
    directory_service(name="WIC Enrollment")
    page = search_services(SearchParams(q=words))
    assert page.total > 0

    listed = api(client, "services", search=words, per_page=100).json()["contents"]

    assert {s["name"] for s in listed} == {s.name for s in page.services}


def test_services_that_are_not_active_are_not_published(client, pantry, five_services):
    Service.objects.filter(pk=pantry.pk).update(status=Service.Status.DEFUNCT)

    assert api(client, "service", pantry.hsds_id).status_code == 404
    assert str(pantry.hsds_id) not in {s["id"] for s in api(client, "services").json()["contents"]}


def test_services_filter_by_search_term_and_organization(client, pantry, five_services, other_org):
    elsewhere = directory_service(name="Bus passes", organization=other_org, terms=("transit",))
    pantry_term = TaxonomyTerm.objects.get(vocabulary="handoff", code="food.food-pantry")

    def ids(**params):
        return {s["id"] for s in api(client, "services", **params).json()["contents"]}

    assert ids(search="weekly pantry") == {str(pantry.hsds_id)}
    assert ids(taxonomy_term_id=pantry_term.hsds_id) == {
        str(s.hsds_id) for s in [pantry, *five_services]
    }
    assert ids(organization_id=other_org.hsds_id) == {str(elsewhere.hsds_id)}
    assert ids(organization_id=other_org.hsds_id, search="pantry") == set()


def test_services_modified_after(client, pantry, five_services):
    Service.objects.exclude(pk=pantry.pk).update(
        updated_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    )

    data = api(client, "services", modified_after="2021-01-01").json()

    assert [s["id"] for s in data["contents"]] == [str(pantry.hsds_id)]


def test_minimal_services_carry_only_id_and_modification_date(client, pantry):
    (item,) = api(client, "services", minimal="true").json()["contents"]
    assert set(item) == {"id", "modified_date"}


def test_service_lists_take_a_bounded_number_of_queries(
    client, food_bank, django_assert_max_num_queries
):
    def make(n):
        for i in range(n):
            service = directory_service(
                name=f"S{i}",
                organization=food_bank,
                terms=("food.food-pantry",),
                at=(42.3, -71.1),
                languages=("en",),
            )
            ScheduleFactory(service=service)
            Phone.objects.create(service=service, number="617-555-0100")

    make(3)
    with django_assert_max_num_queries(14):
        few = api(client, "services", full="true", per_page=100).json()
    make(27)
    with django_assert_max_num_queries(14):
        many = api(client, "services", full="true", per_page=100).json()
    with django_assert_max_num_queries(4):
        api(client, "services", per_page=100)
    with django_assert_max_num_queries(14):
        api(client, "service_at_locations", full="true", per_page=100)
    with django_assert_max_num_queries(5):
        api(client, "organizations", full="true")
    assert (few["size"], many["size"]) == (3, 30)
    assert all(
        s["schedules"] and s["phones"] and s["service_at_locations"] for s in many["contents"]
    )


def test_a_single_service_takes_a_bounded_number_of_queries(
    client, pantry, django_assert_max_num_queries
):
    for i in range(10):
        Phone.objects.create(service=pantry, number=f"617-555-01{i:02d}")
        ScheduleFactory(service=pantry)
    with django_assert_max_num_queries(12):
        data = api(client, "service", pantry.hsds_id).json()
    assert len(data["phones"]) == 11 and len(data["schedules"]) == 11


# --- organizations, terms, services at locations ---------------------------------------------


def test_organizations_lists_the_directory_not_the_clinics(client, pantry, food_bank):
    clinic = ClinicFactory(name="Riverside Clinic")

    data = api(client, "organizations").json()

    assert [o["name"] for o in data["contents"]] == ["Eastside Food Bank"]
    assert api(client, "organization", clinic.hsds_id).status_code == 404


def test_an_organization_nests_its_active_services_and_locations(client, pantry, food_bank):
    directory_service(name="Closed service", organization=food_bank, status=Service.Status.INACTIVE)

    data = api(client, "organization", food_bank.hsds_id).json()

    assert [s["name"] for s in data["services"]] == ["Weekly Food Pantry"]
    assert data["locations"][0]["latitude"] == 42.3399


def test_an_unknown_organization_is_a_json_404(client, db):
    response = api(client, "organization", uuid.uuid4())
    assert response.status_code == 404 and "no organization" in response.json()["error"]


def test_taxonomy_terms_filter_by_parent_and_top_level(client, db):
    food = TaxonomyTerm.objects.get(vocabulary="handoff", code="food")

    top = api(client, "taxonomy_terms", top_only="true", per_page=500).json()
    children = api(client, "taxonomy_terms", parent_id=food.hsds_id, per_page=500).json()

    assert top["total_items"] == TaxonomyTerm.objects.filter(parent__isnull=True).count()
    assert all(t["parent_id"] is None for t in top["contents"])
    assert {t["parent_id"] for t in children["contents"]} == {str(food.hsds_id)}
    assert "food.food-pantry" in {t["code"] for t in children["contents"]}


def test_taxonomy_terms_filter_by_taxonomy(client, db):
    custom = TaxonomyTerm.objects.create(vocabulary="custom", code="c1", name="Custom")
    from directory.hsds.schema import taxonomy_id

    data = api(client, "taxonomy_terms", taxonomy_id=taxonomy_id("custom")).json()

    assert [t["id"] for t in data["contents"]] == [str(custom.hsds_id)]
    assert api(client, "taxonomy_terms", taxonomy_id=uuid.uuid4()).status_code == 400


def test_service_at_locations_pair_each_service_with_its_place(client, pantry):
    data = api(client, "service_at_locations", full="true").json()

    (item,) = data["contents"]
    assert item["service_id"] == str(pantry.hsds_id)
    assert item["service"]["name"] == "Weekly Food Pantry"
    assert item["service"]["schedules"][0]["byday"] == "TU,TH"
    assert item["location"]["addresses"][0]["postal_code"] == "02118"
    assert Schedule.objects.count() == 1
