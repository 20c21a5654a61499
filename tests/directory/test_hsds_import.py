"""HSDS import: all or nothing, clear problems, update in place, JSON, the command and the admin."""

from __future__ import annotations

import datetime
import io
import json
import uuid
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone, translation
from django_tasks_db.models import DBTaskResult

from directory.hsds import reader
from directory.hsds.importer import ImportFailed, import_path, import_upload
from directory.hsds.models import ImportJob
from directory.hsds.tasks import run_import_job
from directory.models import (
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
    ServiceTaxonomy,
    TaxonomyTerm,
)
from tests.directory.test_hsds_export import canonical_dump
from tests.factories import OrganizationFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.usefixtures("taxonomy")

ORG = "0f8c5f36-54a4-4d5a-9b7e-0a4b1c1e0001"
SERVICE = "0f8c5f36-54a4-4d5a-9b7e-0a4b1c1e0002"
LOCATION = "0f8c5f36-54a4-4d5a-9b7e-0a4b1c1e0003"
ADDRESS = "0f8c5f36-54a4-4d5a-9b7e-0a4b1c1e0004"
SAL = "0f8c5f36-54a4-4d5a-9b7e-0a4b1c1e0005"
PHONE = "0f8c5f36-54a4-4d5a-9b7e-0a4b1c1e0006"
SCHEDULE = "0f8c5f36-54a4-4d5a-9b7e-0a4b1c1e0007"
LANGUAGE = "0f8c5f36-54a4-4d5a-9b7e-0a4b1c1e0008"
ATTRIBUTE = "0f8c5f36-54a4-4d5a-9b7e-0a4b1c1e0009"
MISSING = "0f8c5f36-54a4-4d5a-9b7e-0a4b1c1e0bad"


def pantry_term_id() -> str:
    return str(TaxonomyTerm.objects.get(vocabulary="handoff", code="food.food-pantry").hsds_id)


def valid_files() -> dict[str, str]:
    """A small, valid HSDS data package: one organization offering one pantry at one place."""
    return {
        "organizations.csv": f"id,name,description,email,website\r\n{ORG},Eastside Food Bank,Food for all,info@eastside.example.org,https://eastside.example.org\r\n",
        "services.csv": f"id,organization_id,name,description,status,minimum_age\r\n{SERVICE},{ORG},Weekly Food Pantry,Groceries every week,active,\r\n",
        "locations.csv": f"id,location_type,organization_id,name,latitude,longitude\r\n{LOCATION},physical,{ORG},Eastside Hall,42.3399,-71.0752\r\n",
        "addresses.csv": f"id,location_id,address_1,city,state_province,postal_code,country,address_type\r\n{ADDRESS},{LOCATION},12 Dudley St,Boston,MA,02119,US,physical\r\n",
        "service_at_locations.csv": f"id,service_id,location_id,description\r\n{SAL},{SERVICE},{LOCATION},\r\n",
        "phones.csv": f"id,service_id,number,type\r\n{PHONE},{SERVICE},617-555-0142,voice\r\n",
        "schedules.csv": f'id,service_id,freq,byday,opens_at,closes_at,timezone\r\n{SCHEDULE},{SERVICE},WEEKLY,"TU,TH",10:00,18:00,-5\r\n',
        "languages.csv": f"id,service_id,name,code\r\n{LANGUAGE},{SERVICE},Spanish,es\r\n",
        "attributes.csv": f"id,link_id,link_entity,taxonomy_term_id\r\n{ATTRIBUTE},{SERVICE},service,{pantry_term_id()}\r\n",
    }


def write_package(folder: Path, files: dict[str, str | bytes]) -> Path:
    """The files plus a datapackage.json listing them, in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    resources = []
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
        resources.append({"name": name.removesuffix(".csv").rstrip("s"), "path": name})
    (folder / "datapackage.json").write_text(json.dumps({"name": "test", "resources": resources}))
    return folder


def zip_package(files: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        archive.writestr(
            "datapackage.json",
            json.dumps({"resources": [{"name": n.removesuffix(".csv"), "path": n} for n in files]}),
        )
    return out.getvalue()


@pytest.fixture
def existing():
    """Something already in the directory that a failed import must leave alone."""
    return ServiceFactory(
        name="Existing service", organization=OrganizationFactory(name="Existing org")
    )


def assert_fails_changing_nothing(source, expected: str) -> ImportFailed:
    before = canonical_dump()
    with pytest.raises(ImportFailed) as failed:
        import_path(source) if isinstance(source, Path) else import_upload(*source)
    messages = [str(p) for p in failed.value.problems]
    assert expected in messages, messages
    assert canonical_dump() == before
    return failed.value


# --- a clean import -------------------------------------------------------------------------


def test_a_valid_package_imports_every_table(tmp_path):
    result = import_path(write_package(tmp_path / "pkg", valid_files()))

    service = Service.objects.select_related("organization").get(hsds_id=SERVICE)
    assert service.organization.name == "Eastside Food Bank"
    assert service.status == "active"
    location = Location.objects.get(hsds_id=LOCATION)
    assert (location.address_1, location.postal_code, str(location.address_hsds_id)) == (
        "12 Dudley St",
        "02119",
        ADDRESS,
    )
    assert ServiceAtLocation.objects.get(hsds_id=SAL).location == location
    assert Phone.objects.get(hsds_id=PHONE).service == service
    hours = Schedule.objects.get(hsds_id=SCHEDULE)
    assert (hours.byday, hours.timezone, hours.runs_on(1), hours.runs_on(0)) == (
        "TU,TH",
        "America/New_York",
        True,
        False,
    )
    assert Language.objects.get(hsds_id=LANGUAGE).code == "es"
    assert ServiceTaxonomy.objects.get(hsds_id=ATTRIBUTE).service == service
    # Search data is derived at once: the pantry meets the food need and is found by its words.
    assert service.needs.filter(category="food-insecurity").exists()
    assert "Pantry" in Service.objects.get(pk=service.pk).search_document
    assert result.created["service"] == 1 and result.created["organization"] == 1


def test_reimport_updates_in_place_without_duplicates(tmp_path):
    import_path(write_package(tmp_path / "first", valid_files()))
    pk = Service.objects.get(hsds_id=SERVICE).pk

    files = valid_files()
    files["services.csv"] = files["services.csv"].replace("Weekly Food Pantry", "Daily Food Pantry")
    files["phones.csv"] = files["phones.csv"].replace("617-555-0142", "617-555-0199")
    result = import_path(write_package(tmp_path / "second", files))

    service = Service.objects.get(hsds_id=SERVICE)
    assert (service.pk, service.name) == (pk, "Daily Food Pantry")
    assert Service.objects.count() == 1 and Organization.objects.filter(hsds_id=ORG).count() == 1
    assert list(Phone.objects.values_list("number", flat=True)) == ["617-555-0199"]
    assert result.updated["service"] == 1 and not result.created.get("service")
    assert "Daily" in service.search_document


def test_moving_a_term_to_another_service_takes_its_need_from_the_first(tmp_path):
    import_path(write_package(tmp_path / "first", valid_files()))
    other = ServiceFactory(name="Legal aid")
    pantry = Service.objects.get(hsds_id=SERVICE)
    assert pantry.needs.filter(category="food-insecurity").exists()

    files = {
        "attributes.csv": f"id,link_id,link_entity,taxonomy_term_id\r\n{ATTRIBUTE},{other.hsds_id},service,{pantry_term_id()}\r\n"
    }
    result = import_path(write_package(tmp_path / "moved", files))

    assert result.updated["attribute"] == 1
    assert not pantry.needs.filter(category="food-insecurity").exists()
    assert other.needs.filter(category="food-insecurity").exists()


def test_moving_a_term_under_another_gives_services_below_it_the_new_need(tmp_path):
    parent = TaxonomyTerm.objects.create(code="X-1", name="Custom root", vocabulary="custom")
    child = TaxonomyTerm.objects.create(
        code="X-1.1", name="Custom child", vocabulary="custom", parent=parent
    )
    service = ServiceFactory(name="Corner shelf")
    ServiceTaxonomy.objects.create(service=service, taxonomy_term=child)
    service.refresh_search_document()
    assert not service.needs.exists()

    files = {
        "taxonomy_terms.csv": f"id,code,name,parent_id,taxonomy\r\n{parent.hsds_id},X-1,Custom root,{pantry_term_id()},custom\r\n"
    }
    result = import_path(write_package(tmp_path / "moved", files))

    assert result.updated["taxonomy_term"] == 1
    assert list(service.needs.values_list("category", flat=True)) == ["food-insecurity"]


def test_renaming_a_term_by_import_shows_in_the_search_form_once_it_commits(
    tmp_path, django_capture_on_commit_callbacks
):
    from directory.forms import SearchForm

    pantry = TaxonomyTerm.objects.get(vocabulary="handoff", code="food.food-pantry")
    assert "\u2003Food Pantry" in dict(SearchForm().fields["term"].choices)[str(pantry.pk)]  # kept
    files = valid_files()
    files["taxonomy_terms.csv"] = (
        f"id,code,name,description,taxonomy\r\n{pantry.hsds_id},food.food-pantry,Food Shelf,Groceries to take home,handoff\r\n"
    )

    with django_capture_on_commit_callbacks(execute=True):
        import_path(write_package(tmp_path / "renamed", files))

    assert dict(SearchForm().fields["term"].choices)[str(pantry.pk)] == "\u2003Food Shelf"


def test_a_column_left_out_leaves_the_field_as_it_was(tmp_path):
    import_path(write_package(tmp_path / "first", valid_files()))
    Service.objects.filter(hsds_id=SERVICE).update(capacity=Service.Capacity.WAITLIST)

    import_path(
        write_package(
            tmp_path / "second",
            {
                "services.csv": f"id,organization_id,name,status\r\n{SERVICE},{ORG},Renamed,active\r\n"
            },
        )
    )

    service = Service.objects.get(hsds_id=SERVICE)
    assert (service.name, service.description, service.capacity) == (
        "Renamed",
        "Groceries every week",
        "waitlist",
    )


def test_rows_may_point_at_what_is_already_in_the_directory(tmp_path, existing):
    files = {"phones.csv": f"id,service_id,number\r\n{PHONE},{existing.hsds_id},617-555-0000\r\n"}

    import_path(write_package(tmp_path / "pkg", files))

    assert Phone.objects.get(hsds_id=PHONE).service == existing


def test_check_only_changes_nothing(tmp_path):
    before = canonical_dump()
    call_command(
        "import_hsds",
        str(write_package(tmp_path / "pkg", valid_files())),
        "--check",
        "--no-progress",
        stdout=io.StringIO(),
    )
    assert canonical_dump() == before


def test_the_command_imports_and_reports_counts(tmp_path):
    out = io.StringIO()
    call_command(
        "import_hsds",
        str(write_package(tmp_path / "pkg", valid_files())),
        "--no-progress",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "services: 1 new, 0 updated" in out.getvalue()
    assert Service.objects.filter(hsds_id=SERVICE).exists()


def test_hsds_objects_handoff_does_not_keep_are_skipped_with_a_note(tmp_path):
    files = valid_files()
    files["programs.csv"] = "id,organization_id,name\r\n"
    files["services.csv"] = (
        f"id,organization_id,name,status,program_id\r\n{SERVICE},{ORG},Pantry,active,{MISSING}\r\n"
    )
    files["schedules.csv"] = (
        f"id,service_id,freq,byday,description\r\n{SCHEDULE},{SERVICE},MONTHLY,1MO,First Mondays\r\n"
    )

    result = import_path(write_package(tmp_path / "pkg", files))

    assert result.skipped["schedule"] == 1
    assert any("program_id" in w for w in result.warnings)
    assert any("programs.csv" in w for w in result.warnings)
    assert any("schedules.csv, row 2" in w and "weekly" in w for w in result.warnings)


# --- problems: each names file, row and field, and changes nothing -------------------------


def test_a_missing_required_field_is_named_and_nothing_changes(tmp_path, existing):
    files = valid_files()
    files["services.csv"] = f"id,organization_id,name,status\r\n{SERVICE},{ORG},,active\r\n"

    assert_fails_changing_nothing(
        write_package(tmp_path / "pkg", files),
        "services.csv, row 2, field name: is required but empty",
    )
    assert not Organization.objects.filter(hsds_id=ORG).exists()  # the valid rows were not kept


def test_a_missing_required_column_is_named(tmp_path, existing):
    files = valid_files()
    files["services.csv"] = f"id,organization_id,name\r\n{SERVICE},{ORG},Pantry\r\n"

    assert_fails_changing_nothing(
        write_package(tmp_path / "pkg", files),
        "services.csv, row 1, field status: the column is missing from the header row; it is required",
    )


def test_a_bad_latitude_is_named_and_nothing_changes(tmp_path, existing):
    files = valid_files()
    files["locations.csv"] = files["locations.csv"].replace("42.3399", "123.4")

    assert_fails_changing_nothing(
        write_package(tmp_path / "pkg", files),
        "locations.csv, row 2, field latitude: '123.4' is out of range: it must be between -90 and 90",
    )


def test_a_latitude_that_is_not_a_number_is_named(tmp_path, existing):
    files = valid_files()
    files["locations.csv"] = files["locations.csv"].replace("42.3399", "north")

    assert_fails_changing_nothing(
        write_package(tmp_path / "pkg", files),
        "locations.csv, row 2, field latitude: 'north' is not a number",
    )


def test_a_phone_of_a_missing_service_is_named_and_nothing_changes(tmp_path, existing):
    files = valid_files()
    files["phones.csv"] = f"id,service_id,number\r\n{PHONE},{MISSING},617-555-0142\r\n"

    assert_fails_changing_nothing(
        write_package(tmp_path / "pkg", files),
        f"phones.csv, row 2, field service_id: points at service {MISSING}, which is neither in this import nor in the directory",
    )
    assert not Service.objects.filter(hsds_id=SERVICE).exists()


def test_duplicate_ids_are_named_and_nothing_changes(tmp_path, existing):
    files = valid_files()
    files["organizations.csv"] += f"{ORG},Another name,,,\r\n"

    assert_fails_changing_nothing(
        write_package(tmp_path / "pkg", files),
        f"organizations.csv, row 3, field id: the id {ORG} is used twice in this file (also at row 2); ids must be unique",
    )


def test_a_file_that_is_not_utf8_is_named_and_nothing_changes(tmp_path, existing):
    files: dict[str, str | bytes] = dict(valid_files())
    files["services.csv"] = (
        f"id,organization_id,name,status\r\n{SERVICE},{ORG},Café Pantry,active\r\n".encode("cp1252")
    )

    failed = assert_fails_changing_nothing(
        write_package(tmp_path / "pkg", files),
        "services.csv, row 2, field name: is not UTF-8 text (it contains the byte 0xE9, as files saved in "
        "Excel's \u201cCSV\u201d or Windows-1252 format do). Save the file as \u201cCSV UTF-8\u201d and import again.",
    )
    assert len(failed.problems) == 1


def test_a_truncated_zip_is_named_and_nothing_changes(existing):
    data = zip_package(valid_files())

    assert_fails_changing_nothing(
        ("directory.zip", data[: len(data) // 2]),
        "directory.zip: is not a readable zip file: it may have been cut short (truncated) while downloading "
        "or uploading, or be damaged. Make the zip again and retry.",
    )


NOT_A_ZIP = (
    "directory.zip: is not a zip archive. Upload the data package as a .zip of CSV files with "
    "datapackage.json, or as HSDS JSON."
)
TRUNCATED = (
    "directory.zip: is not a readable zip file: it may have been cut short (truncated) while "
    "downloading or uploading, or be damaged. Make the zip again and retry."
)


@pytest.mark.parametrize("content", [b"Name,Phone\r\nEastside,617-555-0142\r\n", b""])
def test_a_file_named_zip_that_is_not_one_is_called_so_and_nothing_changes(
    tmp_path, existing, content
):
    path = tmp_path / "directory.zip"
    path.write_bytes(content)

    assert_fails_changing_nothing(path, NOT_A_ZIP)  # the command's way in
    assert_fails_changing_nothing(("directory.zip", content), NOT_A_ZIP)  # an upload's


def test_a_truncated_zip_read_from_disk_is_called_truncated_and_nothing_changes(tmp_path, existing):
    data = zip_package(valid_files())
    path = tmp_path / "directory.zip"
    path.write_bytes(data[: len(data) // 2])

    assert_fails_changing_nothing(path, TRUNCATED)


def test_the_command_says_a_text_file_named_zip_is_not_a_zip(tmp_path, existing):
    path = tmp_path / "directory.zip"
    path.write_text("not a zip\n")
    before = canonical_dump()
    err = io.StringIO()

    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_hsds", str(path), "--no-progress", stderr=err, stdout=io.StringIO())

    assert NOT_A_ZIP in err.getvalue()
    assert "truncated" not in err.getvalue()
    assert canonical_dump() == before


def test_every_problem_is_reported_at_once(tmp_path):
    files = valid_files()
    files["locations.csv"] = files["locations.csv"].replace("42.3399", "123.4")
    files["phones.csv"] = f"id,service_id,number\r\n{PHONE},{MISSING},\r\n"

    with pytest.raises(ImportFailed) as failed:
        import_path(write_package(tmp_path / "pkg", files))

    assert {(p.file, p.row, p.field) for p in failed.value.problems} == {
        ("locations.csv", 2, "latitude"),
        ("phones.csv", 2, "service_id"),
        ("phones.csv", 2, "number"),
    }


def test_ages_in_the_wrong_order_are_refused(tmp_path):
    files = valid_files()
    files["services.csv"] = (
        f"id,organization_id,name,status,minimum_age,maximum_age\r\n{SERVICE},{ORG},P,active,60,17\r\n"
    )

    assert_fails_changing_nothing(
        write_package(tmp_path / "pkg", files),
        "services.csv, row 2, field maximum_age: the maximum age (17) is below the minimum age (60)",
    )


def test_the_command_lists_problems_and_fails(tmp_path):
    files = valid_files()
    files["locations.csv"] = files["locations.csv"].replace("42.3399", "123.4")
    err = io.StringIO()

    with pytest.raises(CommandError, match="Nothing was imported: 1 problem"):
        call_command(
            "import_hsds",
            str(write_package(tmp_path / "pkg", files)),
            "--no-progress",
            stderr=err,
            stdout=io.StringIO(),
        )

    assert "locations.csv, row 2, field latitude" in err.getvalue()


# --- HSDS JSON ------------------------------------------------------------------------------


def json_services() -> list[dict]:
    """Two services of one organization, nested as the HSDS 3.0 service schema nests them."""
    organization = {"id": ORG, "name": "Eastside Food Bank", "description": "Food for all"}
    location = {
        "id": LOCATION,
        "location_type": "physical",
        "name": "Eastside Hall",
        "latitude": 42.3399,
        "longitude": -71.0752,
        "addresses": [
            {
                "id": ADDRESS,
                "address_1": "12 Dudley St",
                "city": "Boston",
                "state_province": "MA",
                "postal_code": "02119",
                "country": "US",
                "address_type": "physical",
            }
        ],
    }
    return [
        {
            "id": SERVICE,
            "name": "Weekly Food Pantry",
            "status": "active",
            "organization": organization,
            "service_at_locations": [{"id": SAL, "location": location}],
            "phones": [
                {
                    "id": PHONE,
                    "number": "617-555-0142",
                    "languages": [{"id": LANGUAGE, "name": "Spanish", "code": "es"}],
                }
            ],
            "schedules": [
                {
                    "id": SCHEDULE,
                    "freq": "WEEKLY",
                    "byday": "MO",
                    "opens_at": "09:00-05:00",
                    "closes_at": "12:00-05:00",
                }
            ],
            "attributes": [
                {
                    "id": ATTRIBUTE,
                    "taxonomy_term": {
                        "id": pantry_term_id(),
                        "name": "Food Pantry",
                        "description": "",
                    },
                }
            ],
            "contacts": [{"id": str(uuid.uuid4()), "name": "Pat"}],
        },
        {
            "id": str(uuid.uuid4()),
            "name": "Holiday Meals",
            "status": "temporarily closed",
            "organization": organization,  # the same organization, repeated as the API nests it
            "service_at_locations": [{"id": str(uuid.uuid4()), "location": location}],
        },
    ]


def test_hsds_json_of_nested_services_imports(tmp_path):
    path = tmp_path / "services.json"
    path.write_text(json.dumps(json_services()))

    result = import_path(path)

    service = Service.objects.get(hsds_id=SERVICE)
    assert service.organization.hsds_id == uuid.UUID(ORG)
    assert Organization.objects.filter(hsds_id=ORG).count() == 1
    assert Service.objects.get(name="Holiday Meals").status == "temporarily closed"
    assert ServiceAtLocation.objects.filter(location__hsds_id=LOCATION).count() == 2
    assert Location.objects.get(hsds_id=LOCATION).city == "Boston"
    phone = Phone.objects.get(hsds_id=PHONE)
    assert phone.service == service and phone.languages.get().code == "es"
    assert Schedule.objects.get(hsds_id=SCHEDULE).timezone == "America/New_York"  # from the offset
    assert ServiceTaxonomy.objects.get(hsds_id=ATTRIBUTE).service == service
    assert any("contacts" in w for w in result.warnings)


def test_json_problems_name_the_object_path_and_the_service_counted_from_1(tmp_path):
    services = json_services()
    services[0]["service_at_locations"][0]["location"]["latitude"] = 123.4
    services[1]["id"] = SERVICE
    path = tmp_path / "services.json"
    path.write_text(json.dumps(services))

    before = canonical_dump()
    with pytest.raises(ImportFailed) as failed:
        import_path(path)

    assert [str(p) for p in failed.value.problems] == [
        "services.json, service 1 of the file (services[0].service_at_locations[0].location; "
        "JSON counts from 0), field latitude: '123.4' is out of range: it must be between -90 and 90",
        "services.json, service 2 of the file (services[1]; JSON counts from 0), field id: "
        f"the id {SERVICE} is used again for a different service: the first is at service 1 "
        "of the file (services[0]; JSON counts from 0), and they differ in name, status; "
        "ids must be unique",
    ]
    assert canonical_dump() == before


def test_a_bad_value_in_a_repeated_json_object_is_named_as_well_as_the_repeat(tmp_path):
    services = json_services()
    second_place = services[1]["service_at_locations"][0]
    second_place["location"] = dict(second_place["location"], longitude=-500)
    path = tmp_path / "services.json"
    path.write_text(json.dumps(services))

    before = canonical_dump()
    with pytest.raises(ImportFailed) as failed:
        import_path(path)

    where = "services.json, service 2 of the file (services[1].service_at_locations[0].location; JSON counts from 0)"
    assert [str(p) for p in failed.value.problems] == [
        f"{where}, field id: the id {LOCATION} is used again for a different location: the "
        "first is at service 1 of the file (services[0].service_at_locations[0].location; JSON "
        "counts from 0), and they differ in longitude; ids must be unique",
        f"{where}, field longitude: '-500' is out of range: it must be between -180 and 180",
    ]
    assert canonical_dump() == before


def test_every_problem_of_a_row_is_named_not_only_the_first(tmp_path):
    files = valid_files()
    files["schedules.csv"] = (
        f'id,service_id,freq,byday,opens_at,closes_at\r\n{SCHEDULE},{SERVICE},WEEKLY,"TU,XX",25:00,18:00\r\n'
    )
    files["languages.csv"] = f"id,phone_id,name,code\r\n{LANGUAGE},not-an-id,,\r\n"

    with pytest.raises(ImportFailed) as failed:
        import_path(write_package(tmp_path / "pkg", files))

    assert [(p.file, p.row, p.field) for p in failed.value.problems] == [
        ("languages.csv", 2, "phone_id"),
        ("languages.csv", 2, "code"),  # a language needs a name or a code
        ("schedules.csv", 2, "opens_at"),  # '25:00' is not a time of day
        ("schedules.csv", 2, "byday"),  # 'XX' is not a day of the week
    ]


def test_problems_are_listed_by_file_then_row_whatever_order_they_were_found_in(tmp_path):
    files = valid_files()
    other = str(uuid.uuid4())
    files["services.csv"] = (
        "id,organization_id,name,status\r\n"
        f"{SERVICE},{MISSING},Weekly Food Pantry,active\r\n"  # found by the reference check
        f"{other},{ORG},Holiday Meals,sometimes\r\n"  # found first, reading the file
    )
    files["locations.csv"] = files["locations.csv"].replace("42.3399", "123.4")

    with pytest.raises(ImportFailed) as failed:
        import_path(write_package(tmp_path / "pkg", files))

    assert [(p.file, p.row, p.field) for p in failed.value.problems] == [
        ("locations.csv", 2, "latitude"),
        ("services.csv", 2, "organization_id"),
        ("services.csv", 3, "status"),
    ]


def test_past_the_cap_the_first_problems_by_file_and_row_are_listed_and_the_rest_counted(
    monkeypatch,
):
    monkeypatch.setattr(reader, "MAX_PROBLEMS", 3)
    report = reader.Report()
    for label in ("services[10]", "services[9]", "services[2]", "services[2].phones[0]"):
        report.problem("services.json", label, "name", "is required but missing")
    report.problem("a.json", None, None, "is not valid JSON")

    assert [(p.file, p.row) for p in report.problems] == [
        ("a.json", None),
        ("services.json", "services[2]"),
        ("services.json", "services[2].phones[0]"),
    ]
    assert report.problem_lines()[-1] == "… and 2 more problems."


def test_json_that_is_not_json_is_named(existing):
    assert_fails_changing_nothing(
        ("services.json", b'[{"id": '),
        "services.json, line 1: is not valid JSON: Expecting value (column 9)",
    )


# --- the admin upload -----------------------------------------------------------------------


@pytest.fixture
def platform_admin(db):
    return UserFactory(is_staff=True, is_superuser=True)


def upload(client, data: bytes, name: str = "directory.zip"):
    return client.post(
        reverse("admin:directory_importjob_upload"),
        {"file": SimpleUploadedFile(name, data, content_type="application/zip")},
    )


def test_staff_can_upload_a_package_and_see_it_imported(client, platform_admin):
    client.force_login(platform_admin)
    assert client.get(reverse("admin:directory_importjob_upload")).status_code == 200

    response = upload(client, zip_package(valid_files()))

    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "admin:directory_importjob_progress", args=[job.pk]
    )
    assert job.status == ImportJob.Status.SUCCEEDED and job.created_by == platform_admin
    assert job.data == b""  # the upload is not kept once imported
    assert Service.objects.filter(hsds_id=SERVICE).exists()
    page = client.get(response.url)
    assert "services: 1 new, 0 updated" in page.content.decode()
    assert "hx-trigger" not in page.content.decode()  # finished: the page stops polling
    listing = client.get(reverse("admin:directory_importjob_changelist")).content.decode()
    assert "directory.zip" in listing and "services: 1 new" in listing


def test_staff_see_every_problem_of_a_failed_upload(client, platform_admin):
    client.force_login(platform_admin)
    files = valid_files()
    files["locations.csv"] = files["locations.csv"].replace("42.3399", "123.4")

    response = upload(client, zip_package(files))

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert job.problems == [
        {
            "file": "locations.csv",
            "row": 2,
            "place": "row 2",
            "field": "latitude",
            "message": "'123.4' is out of range: it must be between -90 and 90",
        }
    ]
    assert not Service.objects.filter(hsds_id=SERVICE).exists()
    page = client.get(response.url).content.decode()
    assert "Nothing was imported" in page and "&#x27;123.4&#x27; is out of range" in page
    assert "<td>row 2</td>" in page


def test_staff_uploading_a_text_file_named_zip_are_told_it_is_not_a_zip(
    client, platform_admin, existing
):
    client.force_login(platform_admin)
    before = canonical_dump()

    response = upload(client, b"Name,Phone\r\nEastside,617-555-0142\r\n")

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert [p["message"] for p in job.problems] == [NOT_A_ZIP.removeprefix("directory.zip: ")]
    page = client.get(response.url).content.decode()
    assert "is not a zip archive" in page and "truncated" not in page
    assert canonical_dump() == before


def test_the_job_page_shows_when_the_file_was_uploaded_without_a_doubled_full_stop(
    client, platform_admin
):
    job = ImportJob.objects.create(
        file_name="directory.zip", file_size=2048, status=ImportJob.Status.SUCCEEDED
    )
    # An afternoon time: English dates ended in "p.m." (now "PM", as on every page), and the
    # sentence used to add a "."
    afternoon = timezone.make_aware(datetime.datetime(2026, 12, 4, 15, 45))
    ImportJob.objects.filter(pk=job.pk).update(created_at=afternoon)
    client.force_login(platform_admin)

    page = client.get(reverse("admin:directory_importjob_progress", args=[job.pk])).content.decode()

    assert "directory.zip (2.0\xa0KB) · uploaded Dec. 4, 2026, 3:45 PM" in page
    assert "p.m.." not in page


def test_staff_with_the_import_permission_only_can_upload(client, db):
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_importjob", "view_importjob"])
    )
    client.force_login(clerk)

    upload(client, zip_package(valid_files()))

    assert Service.objects.filter(hsds_id=SERVICE).exists()


def test_staff_without_the_permission_are_refused(client, db):
    client.force_login(UserFactory(is_staff=True))

    response = upload(client, zip_package(valid_files()))

    assert response.status_code == 403
    assert not ImportJob.objects.exists() and not Service.objects.filter(hsds_id=SERVICE).exists()


def test_people_who_are_not_staff_cannot_upload(client, db):
    client.force_login(UserFactory(is_staff=False))

    response = upload(client, zip_package(valid_files()))

    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    assert not ImportJob.objects.exists() and not Service.objects.filter(hsds_id=SERVICE).exists()


def test_a_large_upload_runs_in_the_background_and_the_page_polls_its_progress(
    client, platform_admin, settings, django_capture_on_commit_callbacks
):
    settings.HSDS_INLINE_IMPORT_MAX_BYTES = 0
    client.force_login(platform_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, zip_package(valid_files()))

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.QUEUED
    assert not Service.objects.filter(hsds_id=SERVICE).exists()
    queued = DBTaskResult.objects.get(task_path__endswith="run_import_job")
    assert queued.args_kwargs["args"] == [job.pk]
    partial = client.get(response.url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in partial and "<progress" in partial
    assert "<html" not in partial  # only the progress fragment

    assert run_import_job.call(job.pk) == ImportJob.Status.SUCCEEDED  # what the worker runs

    job.refresh_from_db()
    assert (job.status, job.phase, job.done) == (ImportJob.Status.SUCCEEDED, "save", job.total)
    assert job.total > 0  # progress was recorded while it ran
    assert Service.objects.filter(hsds_id=SERVICE).exists()
    assert "hx-trigger" not in client.get(response.url, HTTP_HX_REQUEST="true").content.decode()
    assert run_import_job.call(job.pk) == ImportJob.Status.SUCCEEDED  # delivered twice: runs once


def test_an_upload_in_spanish_is_reported_in_spanish_even_by_the_background_worker(
    client, platform_admin, settings, django_capture_on_commit_callbacks
):
    settings.HSDS_INLINE_IMPORT_MAX_BYTES = 0
    client.force_login(platform_admin)
    client.cookies["django_language"] = "es"
    files = valid_files()
    files["locations.csv"] = files["locations.csv"].replace("42.3399", "123.4")

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, zip_package(files))
    with translation.override("en"):  # the worker's own language
        assert run_import_job.call(ImportJob.objects.get().pk) == ImportJob.Status.FAILED

    job = ImportJob.objects.get()
    assert job.language == "es"
    assert [(p["place"], p["field"], p["message"]) for p in job.problems] == [
        ("fila 2", "latitude", "'123.4' está fuera del rango: debe estar entre -90 y 90")
    ]
    page = client.get(response.url).content.decode()
    assert "No se importó nada" in page and "Nothing was imported" not in page
    assert "está fuera del rango" in page and "<td>fila 2</td>" in page


def test_the_directory_admin_links_to_import_and_export(client, platform_admin):
    client.force_login(platform_admin)

    page = client.get(reverse("admin:app_list", args=["directory"])).content.decode()

    assert reverse("admin:directory_importjob_upload") in page
    assert reverse("admin:directory_importjob_export") in page


def test_staff_can_download_the_directory_as_a_package(client, platform_admin, existing):
    client.force_login(platform_admin)

    response = client.get(reverse("admin:directory_importjob_export"))

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "Existing service" in archive.read("services.csv").decode()


def test_a_zip_whose_files_sit_in_a_folder_imports(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in valid_files().items():
            archive.writestr(f"export-2026/{name}", content)

    result = import_upload("export.zip", out.getvalue())

    assert Service.objects.filter(hsds_id=SERVICE).exists()
    assert any("no datapackage.json" in w for w in result.warnings)


def test_the_apis_own_json_imports_back(client, tmp_path):
    import_path(write_package(tmp_path / "pkg", valid_files()))
    page = client.get(reverse("hsds_api:services"), {"full": "true"}).json()
    Organization.objects.all().delete()
    Location.objects.all().delete()

    import_upload("page.json", json.dumps(page).encode())

    service = Service.objects.get(hsds_id=SERVICE)
    assert service.organization.hsds_id == uuid.UUID(ORG)
    assert Schedule.objects.get(hsds_id=SCHEDULE).byday == "TU,TH"
    assert Location.objects.get(hsds_id=LOCATION).postal_code == "02119"
    assert ServiceTaxonomy.objects.filter(service=service).count() == 1
