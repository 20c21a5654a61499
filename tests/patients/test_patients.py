"""Patients: search, register with duplicate warning, edit, the patient page, scoping."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from accounts.models import Role
from patients.models import Patient
from screening.models import Need
from tests.factories import (
    ClinicFactory,
    NeedFactory,
    PatientFactory,
    ScreeningFactory,
    answer_all,
    member,
)

pytestmark = pytest.mark.django_db

BORN = datetime.date(1980, 5, 17)


@pytest.fixture
def maria(clinic):
    return PatientFactory(
        organization=clinic,
        given_name="María",
        family_name="Lopez",
        birth_date=BORN,
        mrn="A-100",
        mrn_system="urn:oid:1.2.3",
        preferred_language="es",
    )


def register_data(**overrides) -> dict:
    data = {
        "given_name": "Ana",
        "family_name": "Diaz",
        "birth_date": "1975-02-03",
        "sex": "female",
        "gender_identity": "",
        "preferred_language": "es",
        "address_line": "1 Main St",
        "city": "Boston",
        "state": "ma",
        "zip_code": "02118",
        "phone": "617-555-0100",
        "email": "",
        "contact_method": "phone",
        "contact_times": "mornings",
        "mrn": "",
        "mrn_system": "",
    }
    data.update(overrides)
    return data


# --- QuerySet ------------------------------------------------------------------------------


def test_search_finds_by_name_date_of_birth_or_mrn(maria, clinic):
    PatientFactory(
        organization=clinic,
        given_name="John",
        family_name="Smith",
        birth_date=datetime.date(1990, 1, 1),
    )
    patients = Patient.objects.for_organization(clinic)
    assert list(patients.search("lopez")) == [maria]
    assert list(patients.search("María Lopez")) == [maria]
    assert list(patients.search("05/17/1980")) == [maria]
    assert list(patients.search("1980-05-17")) == [maria]
    assert list(patients.search("a-100")) == [maria]
    assert list(patients.search("nobody")) == []
    assert patients.search("").count() == 2


def test_for_organization_leaves_out_other_organizations_patients(maria, other_org):
    PatientFactory(organization=ClinicFactory(), given_name="María", family_name="Lopez")
    assert list(Patient.objects.for_organization(maria.organization).search("Lopez")) == [maria]


def test_same_person_ignores_case_and_spaces(maria, clinic):
    assert list(Patient.objects.same_person_as(" maría ", "LOPEZ", BORN)) == [maria]
    assert not Patient.objects.same_person_as("Maria", "Lopez", datetime.date(1980, 5, 18)).exists()


# --- list ----------------------------------------------------------------------------------


def test_patient_list_needs_sign_in(client):
    response = client.get(reverse("patients:list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_patient_list_is_forbidden_to_cbo_staff(client, staff):
    client.force_login(staff)
    assert client.get(reverse("patients:list")).status_code == 403


def test_patient_list_searches_own_organization_only(client, referrer, maria, stranger):
    PatientFactory(organization=stranger.memberships.get().organization, family_name="Lopez")
    client.force_login(referrer)
    response = client.get(reverse("patients:list"), {"q": "Lopez"})
    assert response.status_code == 200
    assert list(response.context["patients"]) == [maria]


def test_org_admin_of_a_referring_organization_may_use_patients(client, clinic_admin, maria):
    client.force_login(clinic_admin)
    assert client.get(reverse("patients:list")).status_code == 200


def test_org_admin_of_an_organization_that_does_not_refer_gets_403(client, food_admin):
    client.force_login(food_admin)
    assert client.get(reverse("patients:list")).status_code == 403


# --- register ------------------------------------------------------------------------------


def test_register_needs_sign_in(client):
    response = client.get(reverse("patients:register"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_referrer_registers_a_patient_in_their_organization(client, referrer, clinic):
    client.force_login(referrer)
    response = client.post(reverse("patients:register"), register_data())
    patient = Patient.objects.get()
    assert response.status_code == 302 and response["Location"] == patient.get_absolute_url()
    assert (patient.organization, patient.registered_by, patient.state) == (clinic, referrer, "MA")


def test_register_warns_about_same_name_and_date_of_birth_and_saves_nothing(
    client, referrer, maria
):
    client.force_login(referrer)
    data = register_data(given_name="maria", family_name="lopez", birth_date="1980-05-17")
    data["given_name"] = "María"
    response = client.post(reverse("patients:register"), data)
    assert response.status_code == 200
    assert response.context["duplicates"] == [maria]
    assert "confirm_new_person" in response.context["form"].fields
    assert Patient.objects.count() == 1


def test_register_after_confirming_a_different_person_saves(client, referrer, maria):
    client.force_login(referrer)
    data = register_data(
        given_name="María", family_name="Lopez", birth_date="1980-05-17", confirm_new_person="on"
    )
    response = client.post(reverse("patients:register"), data)
    assert response.status_code == 302
    assert Patient.objects.count() == 2


def test_duplicate_warning_ignores_other_organizations(client, referrer, stranger):
    PatientFactory(
        organization=stranger.memberships.get().organization,
        given_name="Ana",
        family_name="Diaz",
        birth_date=datetime.date(1975, 2, 3),
    )
    client.force_login(referrer)
    assert client.post(reverse("patients:register"), register_data()).status_code == 302


def test_register_rejects_a_taken_mrn_at_the_field(client, referrer, maria):
    client.force_login(referrer)
    response = client.post(
        reverse("patients:register"), register_data(mrn="A-100", mrn_system="urn:oid:1.2.3")
    )
    assert response.status_code == 200
    assert "mrn" in response.context["form"].errors
    assert Patient.objects.count() == 1


def test_register_rejects_a_bad_zip_code(client, referrer):
    client.force_login(referrer)
    response = client.post(reverse("patients:register"), register_data(zip_code="ABCDE"))
    assert "zip_code" in response.context["form"].errors


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("birth_date", "2030-01-01", "cannot be in the future"),
        ("phone", "not a phone!!", "at least 7 digits"),
        ("phone", "555-01", "at least 7 digits"),
        ("mrn_system", "not a uri", "full URI"),
        ("mrn_system", "https://", "full URI"),
    ],
)
def test_register_refuses_bad_input_at_the_field_and_saves_nothing(
    client, referrer, field, value, message
):
    client.force_login(referrer)
    data = register_data(**{field: value}, **({"mrn": "A-7"} if field == "mrn_system" else {}))
    response = client.post(reverse("patients:register"), data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert message in response.content.decode()
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("phone", "mrn_system"),
    [
        ("(617) 555-0100 ext. 12", "urn:oid:2.16.840.1.113883.19.5"),
        ("+1 617.555.0100", "https://ehr.example.org/mrn"),
        ("6175550100 x3", "http://hospital.example.org/fhir/sid/mrn"),
    ],
)
def test_register_takes_usual_phone_numbers_and_uri_systems(client, referrer, phone, mrn_system):
    client.force_login(referrer)
    data = register_data(phone=phone, mrn="A-7", mrn_system=mrn_system)
    assert client.post(reverse("patients:register"), data).status_code == 302
    assert Patient.objects.get().phone == phone


def test_edit_refuses_a_future_date_of_birth_and_changes_nothing(client, referrer, maria):
    client.force_login(referrer)
    data = register_data(given_name="María", family_name="Lopez", birth_date="2999-05-17")
    response = client.post(reverse("patients:edit", args=[maria.pk]), data)
    assert "birth_date" in response.context["form"].errors
    maria.refresh_from_db()
    assert maria.birth_date == BORN


# --- edit ----------------------------------------------------------------------------------


def test_edit_needs_sign_in(client, maria):
    response = client.get(reverse("patients:edit", args=[maria.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_edit_of_another_organizations_patient_is_404(client, stranger, maria):
    client.force_login(stranger)
    assert client.get(reverse("patients:edit", args=[maria.pk])).status_code in (403, 404)
    referrer_elsewhere = member(ClinicFactory(), Role.REFERRER)
    client.force_login(referrer_elsewhere)
    assert client.get(reverse("patients:edit", args=[maria.pk])).status_code == 404
    assert (
        client.post(reverse("patients:edit", args=[maria.pk]), register_data()).status_code == 404
    )


def test_referrer_edits_a_patient(client, referrer, maria):
    client.force_login(referrer)
    data = register_data(
        given_name="María",
        family_name="López",
        birth_date="1980-05-17",
        mrn="A-100",
        mrn_system="urn:oid:1.2.3",
    )
    response = client.post(reverse("patients:edit", args=[maria.pk]), data)
    assert response.status_code == 302
    maria.refresh_from_db()
    assert maria.family_name == "López"


# --- detail --------------------------------------------------------------------------------


def test_patient_page_needs_sign_in(client, maria):
    response = client.get(maria.get_absolute_url())
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_patient_page_of_another_organization_is_404(client, maria):
    client.force_login(member(ClinicFactory(), Role.REFERRER))
    assert client.get(maria.get_absolute_url()).status_code == 404


def test_patient_page_writes_the_address_as_addresses_are_written(client, referrer, maria):
    type(maria).objects.filter(pk=maria.pk).update(
        address_line="12 Main St", city="Boston", state="MA", zip_code="02118"
    )
    client.force_login(referrer)

    html = client.get(maria.get_absolute_url()).content.decode()

    assert "Address: 12 Main St, Boston, MA 02118" in html
    assert '<link rel="icon" href="/static/handoff/favicon.svg" type="image/svg+xml">' in html


def test_the_page_icon_is_a_static_file():
    from django.contrib.staticfiles import finders

    assert finders.find("handoff/favicon.svg")


def test_patient_page_shows_screenings_needs_and_a_timeline(client, referrer, maria):
    screening = ScreeningFactory(patient=maria)
    answer_all(screening, {q.code: "not-asked" for q in screening.instrument.questions})
    answer_all(screening, {"88122-7": "LA28397-0"})
    screening.complete(by=referrer)
    manual = Need.add(maria, "transportation-insecurity", by=referrer, note="No bus pass")
    manual.resolve(by=referrer, note="Got a bus pass")
    client.force_login(referrer)
    response = client.get(maria.get_absolute_url())
    assert response.status_code == 200
    assert [n.category for n in response.context["active_needs"]] == ["food-insecurity"]
    assert [n.category for n in response.context["resolved_needs"]] == ["transportation-insecurity"]
    texts = [e.text for e in response.context["timeline"]]
    assert "Screening completed" in texts
    assert "Need resolved: Transportation" in texts
    assert "Need: Food" in texts
    assert b"Got a bus pass" in response.content


def test_patient_page_lists_needs_of_this_patient_only(client, referrer, maria, clinic):
    NeedFactory(patient=PatientFactory(organization=clinic), category="homelessness")
    client.force_login(referrer)
    response = client.get(maria.get_absolute_url())
    assert response.context["active_needs"] == []
