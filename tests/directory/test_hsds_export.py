"""HSDS export: the package's shape, and import(export(directory)) reproduces the directory."""

from __future__ import annotations

import csv
import datetime
import io
import json
import uuid
import zipfile
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, models

from directory.generator import generate_directory
from directory.hsds import schema
from directory.hsds.exporter import export_directory
from directory.hsds.importer import import_path
from directory.models import (
    CostOption,
    Language,
    Location,
    Organization,
    Phone,
    RequiredDocument,
    Schedule,
    SearchWord,
    Service,
    ServiceArea,
    ServiceAtLocation,
    ServiceNeed,
    ServiceTaxonomy,
    TaxonomyTerm,
)

pytestmark = pytest.mark.usefixtures("taxonomy")

DUMPED_MODELS = [
    TaxonomyTerm,
    Organization,
    Service,
    Location,
    ServiceAtLocation,
    Phone,
    Schedule,
    Language,
    ServiceArea,
    CostOption,
    RequiredDocument,
    ServiceTaxonomy,
    ServiceNeed,
]
# Bookkeeping of this database, not directory data: row keys, timestamps, derived search text,
# and who last changed a capacity (a user of this portal).
NOT_DUMPED = {
    "id",
    "created_at",
    "updated_at",
    "search_document",
    "capacity_updated_at",
    "capacity_updated_by",
}


def canonical_dump() -> dict[str, list[tuple]]:
    """Every directory row, foreign keys as HSDS ids, in a stable order."""
    dump = {}
    for model in DUMPED_MODELS:
        names = []
        for field in model._meta.concrete_fields:
            if field.name in NOT_DUMPED:
                continue
            names.append(
                f"{field.name}__hsds_id" if isinstance(field, models.ForeignKey) else field.name
            )
        rows = []
        for values in model.objects.values(*names):
            if model is Location and not any(
                values[f] for f in ("address_1", "city", "postal_code", "state_province")
            ):
                values["address_hsds_id"] = None  # no address: its id is never used
            rows.append(tuple(sorted((k, repr(v)) for k, v in values.items())))
        dump[model.__name__] = sorted(rows)
    return dump


def empty_the_directory() -> None:
    Organization.objects.all().delete()
    Location.objects.all().delete()
    TaxonomyTerm.objects.all().delete()
    SearchWord.objects.all().delete()
    assert not any(model.objects.exists() for model in DUMPED_MODELS)


@pytest.fixture
def rich_directory():
    """A generated directory plus one of everything the generator does not make."""
    generate_directory(30, seed=5)
    org = Organization.objects.create(
        name='Café "Unidos", Inc.',
        alternate_name="Unidos",
        description="Línea 1\nLine 2, with a comma; 中文",
        email="hola@unidos.example.org",
        website="https://unidos.example.org/",
        tax_id="04-1234567",
        year_incorporated=1987,
        legal_status="501(c)(3)",
        kind=Organization.Kind.BOTH,
    )
    parent = TaxonomyTerm.objects.create(
        code="X-1",
        name="Custom root",
        vocabulary="custom",
        term_uri="https://terms.example.org/x-1",
    )
    child = TaxonomyTerm.objects.create(
        code="X-1.1",
        name="Custom child",
        description="A child.",
        vocabulary="custom",
        parent=parent,
    )
    service = Service.objects.create(
        organization=org,
        name="Legal clinic",
        alternate_name="Clínica",
        description="Free legal help.",
        url="https://unidos.example.org/legal",
        email="legal@unidos.example.org",
        status=Service.Status.INACTIVE,
        interpretation_services="Spanish, Portuguese",
        application_process="Call first.",
        fees_description="Free",
        accreditations="ABA",
        eligibility_description="Adults",
        minimum_age=18,
        maximum_age=99,
        alert="Closed Fridays",
        assured_date=datetime.date(2026, 3, 1),
        accepts_referrals=False,
        capacity=Service.Capacity.WAITLIST,
        response_time_days=5,
    )
    ServiceTaxonomy.objects.create(service=service, taxonomy_term=child)
    office = Location.objects.create(
        organization=org,
        name="Main office",
        description="Second floor",
        transportation="Orange Line",
        accessibility="Ramp at the side door",
        latitude=42.3,
        longitude=-71.1,
        address_1="1 Main St",
        address_2="Suite 2",
        city="Boston",
        region="Suffolk",
        state_province="MA",
        postal_code="02118",
    )
    online = Location.objects.create(location_type=Location.Type.VIRTUAL, name="Online")
    at_office = ServiceAtLocation.objects.create(
        service=service, location=office, description="Walk-ins on Tuesdays"
    )
    ServiceAtLocation.objects.create(service=service, location=online)
    Schedule.objects.create(
        service_at_location=at_office,
        byday="TU",
        opens_at=datetime.time(9, 30),
        closes_at=datetime.time(12),
        timezone="America/Chicago",
        valid_from=datetime.date(2026, 1, 1),
        valid_to=datetime.date(2026, 12, 31),
        description="Tuesday mornings",
    )
    Schedule.objects.create(
        location=office,
        byday="MO,TU,WE,TH,FR",
        opens_at=datetime.time(8),
        closes_at=datetime.time(18),
    )
    phone = Phone.objects.create(
        location=office,
        number="617-555-0100",
        extension="12",
        type="voice",
        description="Front desk",
    )
    Phone.objects.create(organization=org, number="617-555-0199", type="fax")
    Language.objects.create(location=office, name="Spanish", code="es")
    Language.objects.create(phone=phone, name="Portuguese", code="pt")
    ServiceArea.objects.create(
        service=service,
        name="Suffolk County",
        extent='{"type": "Polygon", "coordinates": []}',
        extent_type="geojson",
    )
    CostOption.objects.create(
        service=service,
        option="Sliding scale",
        amount=Decimal("12.50"),
        amount_description="per visit",
    )
    RequiredDocument.objects.create(
        service=service, document="Photo ID", uri="https://unidos.example.org/id"
    )
    service.refresh_search_document()
    return org


def test_export_writes_every_hsds_table_and_a_datapackage(tmp_path, rich_directory):
    counts = export_directory(tmp_path / "out")

    descriptor = json.loads((tmp_path / "out" / "datapackage.json").read_text())
    assert [r["path"] for r in descriptor["resources"]] == [t.path for t in schema.TABLES]
    for table in schema.TABLES:
        with (tmp_path / "out" / table.path).open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == counts[table.name]
    assert counts["service"] == Service.objects.count()
    assert counts["taxonomy"] == 2  # handoff and custom
    assert counts["organization_identifier"] == 1  # the EIN
    with (tmp_path / "out" / "services.csv").open(encoding="utf-8", newline="") as f:
        legal = next(r for r in csv.DictReader(f) if r["name"] == "Legal clinic")
    assert legal["status"] == "inactive"
    assert legal["organization_id"] == str(rich_directory.hsds_id)
    assert legal["handoff_capacity"] == "waitlist"


def test_export_to_a_zip_is_the_same_package(tmp_path, rich_directory):
    call_command(
        "export_hsds", str(tmp_path / "directory.zip"), "--no-progress", stdout=io.StringIO()
    )

    with zipfile.ZipFile(tmp_path / "directory.zip") as archive:
        names = set(archive.namelist())
    assert names == {t.path for t in schema.TABLES} | {"datapackage.json"}


@pytest.mark.parametrize("target", ["directory.zip", "folder"])
def test_import_of_the_export_into_an_empty_directory_reproduces_it(
    tmp_path, rich_directory, target
):
    before = canonical_dump()
    assert all(before[model.__name__] for model in DUMPED_MODELS)  # something of everything
    export_directory(tmp_path / target)
    empty_the_directory()

    result = import_path(tmp_path / target)

    assert canonical_dump() == before
    assert result.created["service"] == Service.objects.count()
    assert not result.skipped
    # Derived search data is rebuilt too: the services are found by their words again.
    assert Service.objects.filter(search_document__icontains="Legal clinic").exists()
    assert SearchWord.objects.filter(word="clinic").exists()


def written_marks() -> dict[str, dict]:
    """What a write leaves behind: timestamps, derived rows' keys, and (PostgreSQL) where
    each search row sits on disk: an UPDATE writes a new row version with a new ctid."""
    marks = {
        "organization": dict(Organization.objects.values_list("hsds_id", "updated_at")),
        "service": dict(Service.objects.values_list("hsds_id", "updated_at")),
        "need": dict(ServiceNeed.objects.values_list("pk", "service__hsds_id")),
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.hsds_id, r.ctid::text FROM directory_servicesearch r"
                " JOIN directory_service s ON s.id = r.service_id"
            )
            marks["search_row"] = dict(cursor.fetchall())
    return marks


def counts(result_counts: dict[str, int]) -> dict[str, int]:
    return {table: n for table, n in result_counts.items() if n}


def test_importing_the_export_again_changes_nothing_and_writes_nothing(tmp_path, rich_directory):
    before = canonical_dump()
    marks = written_marks()
    pks = set(Service.objects.values_list("pk", flat=True))
    export_directory(tmp_path / "out.zip")

    result = import_path(tmp_path / "out.zip")

    assert canonical_dump() == before
    assert set(Service.objects.values_list("pk", flat=True)) == pks
    assert (counts(result.created), counts(result.updated)) == ({}, {})
    assert result.unchanged["service"] == len(pks)
    assert f"services: 0 new, 0 updated, {len(pks)} unchanged" in result.lines()
    # Not rewritten: the API's modified_after does not list them, their search rows stay.
    assert written_marks() == marks


def test_reimporting_with_one_field_changed_updates_that_row_alone(tmp_path, rich_directory):
    marks = written_marks()
    export_directory(tmp_path / "out")
    services_csv = tmp_path / "out" / "services.csv"
    with services_csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    legal = next(r for r in rows if r["name"] == "Legal clinic")
    legal["description"] = "Free legal help, now also on Saturdays."
    with services_csv.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    result = import_path(tmp_path / "out")

    assert (counts(result.created), counts(result.updated)) == ({}, {"service": 1})
    after = written_marks()
    changed = {
        kind: {key for key in marks[kind] if after[kind].get(key) != marks[kind][key]}
        for kind in marks
    }
    legal_id = uuid.UUID(legal["id"])
    assert changed["service"] == {legal_id}
    assert changed["organization"] == set()
    # Only the changed service's needs and search row were rebuilt.
    assert {marks["need"][pk] for pk in changed["need"]} <= {legal_id}
    assert changed.get("search_row", {legal_id}) == {legal_id}
    assert "Saturdays" in Service.objects.get(hsds_id=legal_id).search_document


def test_reimporting_with_only_a_phone_changed_marks_its_service_modified(tmp_path, rich_directory):
    marks = written_marks()
    export_directory(tmp_path / "out")
    phones_csv = tmp_path / "out" / "phones.csv"
    with phones_csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    phone = next(r for r in rows if r.get("service_id"))
    phone["number"] = "617-555-0199"
    with phones_csv.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    result = import_path(tmp_path / "out")

    assert counts(result.updated) == {"phone": 1}
    after = written_marks()
    # The API shows a service with its phones: its modified date (modified_after) moves.
    changed = {key for key in marks["service"] if after["service"][key] != marks["service"][key]}
    assert changed == {uuid.UUID(phone["service_id"])}
