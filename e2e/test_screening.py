"""A referrer registers a patient, screens them in Spanish and refers them to a service found."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from directory.models import TaxonomyTerm
from directory.taxonomy import load_taxonomy
from e2e.helpers import assert_accessible, sign_in
from patients.models import Patient
from screening.models import Need, Screening
from tests.factories import ClinicFactory, OrganizationFactory, directory_service, member

pytestmark = pytest.mark.e2e

NEVER = "Nunca"


def answer(page, code: str, text: str) -> None:
    """Choose an answer by its visible text inside one question, and wait for the autosave."""
    question = page.locator(f"#question-{code}")
    question.get_by_text(text, exact=True).click()
    expect(question.get_by_test_id("status")).to_have_text("Saved")


def test_referrer_registers_screens_in_spanish_sees_two_needs_with_services_and_refers(
    page, live_url
):
    if not TaxonomyTerm.objects.exists():
        load_taxonomy()
    referrer = member(ClinicFactory(name="Riverside Clinic"), Role.REFERRER)
    provider = OrganizationFactory(name="Eastside Community Services")
    pantry = directory_service(
        name="Weekly Food Pantry",
        organization=provider,
        terms=("food.food-pantry",),
        at=(42.3399, -71.0752),
        languages=("en", "es"),
    )
    directory_service(
        name="Housing Help Desk",
        organization=provider,
        terms=("housing.eviction-prevention",),
        at=(42.3420, -71.0700),
        languages=("es",),
    )
    directory_service(name="Faraway Pantry", terms=("food.food-pantry",), at=(34.05, -118.24))

    sign_in(page, live_url, referrer.email)
    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_role("link", name="Register a patient").click()
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Díaz")
    page.get_by_label("Date of birth").fill("1980-05-17")
    page.get_by_label("Preferred language").select_option("es")
    page.get_by_label("ZIP code").fill("02118")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rosa Díaz")
    patient = Patient.objects.get()

    page.get_by_role("link", name="Screen for social needs").click()
    page.get_by_role("button", name="Start screening").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Screening: Rosa Díaz")
    # The patient's language is the default: the questions are read in Spanish.
    expect(page.get_by_role("group", name="¿Cuál es su situación de vivienda hoy?")).to_be_visible()
    assert_accessible(page)

    answer(
        page, "71802-3", "Tengo un lugar donde vivir hoy, pero me preocupa perderlo en el futuro"
    )
    answer(page, "96778-6", "Ninguna de las anteriores")
    answer(page, "88122-7", "A veces es cierto")
    # An interrupted screening resumes: the answers given so far were saved as they were given.
    page.reload()
    expect(page.locator("#q-88122-7-LA6729-3")).to_be_checked()
    expect(page.locator("#q-71802-3-LA31994-9")).to_be_checked()
    answer(page, "88123-5", "Nunca es cierto")
    answer(page, "93030-5", "Declined to answer")
    answer(page, "96779-4", "No")
    for code in ("95618-5", "95617-7", "95616-9", "95615-1"):
        answer(page, code, NEVER)
    page.get_by_role("button", name="Finish screening").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Screening results: Rosa Díaz")
    needs = page.get_by_test_id("need")
    expect(needs).to_have_count(2)
    expect(page.get_by_role("heading", name="Food", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Housing instability", exact=True)).to_be_visible()
    expect(page.get_by_test_id("safety-message")).to_have_count(0)
    food = needs.filter(has=page.get_by_role("heading", name="Food", exact=True))
    housing = needs.filter(has=page.get_by_role("heading", name="Housing instability", exact=True))
    expect(food.get_by_test_id("suggested-service")).to_have_count(1)
    expect(food.get_by_test_id("suggested-service")).to_contain_text("Weekly Food Pantry")
    expect(food.get_by_test_id("distance")).to_contain_text("miles away")
    expect(housing.get_by_test_id("suggested-service")).to_contain_text("Housing Help Desk")
    assert_accessible(page)

    screening = Screening.objects.get()
    assert screening.is_completed and screening.language == "es"
    assert screening.answers.get(question="93030-5").status == "declined"
    assert set(Need.objects.filter(patient=patient).values_list("category", flat=True)) == {
        "food-insecurity",
        "housing-instability",
    }

    food.get_by_role("link", name="Refer to Weekly Food Pantry").click()
    # With the referrals feature the link opens a new referral for this patient and service;
    # without it, the service's page.
    expect(page).to_have_url(
        re.compile(
            rf"(service={pantry.pk}&patient={patient.pk}&need=food-insecurity|{pantry.hsds_id}/#refer)$"
        )
    )
