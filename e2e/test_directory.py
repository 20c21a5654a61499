"""A referrer finds a service by need near a ZIP, narrows it down, opens it and refers."""

from __future__ import annotations

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from directory.models import TaxonomyTerm
from directory.taxonomy import load_taxonomy, sdoh_mapping
from e2e.helpers import assert_accessible, sign_in
from tests.factories import (
    ClinicFactory,
    OrganizationFactory,
    PatientFactory,
    ScheduleFactory,
    directory_service,
    member,
)

pytestmark = pytest.mark.e2e

AROUND_THE_CLOCK = {"byday": "MO,TU,WE,TH,FR,SA,SU", "opens_at": time(0), "closes_at": time(0)}


def test_referrer_searches_by_need_near_a_zip_narrows_opens_and_refers(page, live_url):
    if not TaxonomyTerm.objects.exists():
        load_taxonomy()
    referrer = member(ClinicFactory(name="Riverside Clinic"), Role.REFERRER)
    food_bank = OrganizationFactory(name="Eastside Food Bank")
    spanish = directory_service(
        name="Weekly Food Pantry",
        organization=food_bank,
        terms=("food.food-pantry",),
        at=(42.3399, -71.0752),
        languages=("en", "es"),
    )
    ScheduleFactory(service=spanish, **AROUND_THE_CLOCK)
    english = directory_service(
        name="Community Supper",
        organization=food_bank,
        terms=("food.meals.community-meals",),
        at=(42.3420, -71.0700),
        languages=("en",),
    )
    ScheduleFactory(service=english, **AROUND_THE_CLOCK)
    closed = directory_service(
        name="Saturday Market Pantry",
        organization=food_bank,
        terms=("food.food-pantry",),
        at=(42.3450, -71.0800),
        languages=("en", "es"),
    )
    ScheduleFactory(service=closed, byday="SA", opens_at=time(9), closes_at=time(9, 1))
    directory_service(
        name="Night Shelter", terms=("emergency.emergency-shelter",), at=(42.3399, -71.0752)
    )

    sign_in(page, live_url, referrer.email)
    page.get_by_role("link", name="Directory", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a community service")

    page.get_by_label("Need", exact=True).select_option("food-insecurity")
    page.get_by_label("Near ZIP code").fill("02118")
    page.get_by_label("Near ZIP code").press("Enter")
    expect(page.get_by_test_id("result")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"need=food-insecurity.*zip=02118"))

    page.get_by_label("Language spoken", exact=True).select_option("es")
    expect(page.get_by_test_id("result")).to_have_count(2)
    page.get_by_label("Open", exact=True).select_option("now")
    expect(page.get_by_test_id("result")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"language=es.*open=now|open=now.*language=es"))
    expect(page.get_by_test_id("result")).to_contain_text("Weekly Food Pantry")
    expect(page.get_by_test_id("result")).to_contain_text("Open now")
    expect(page.get_by_test_id("distance")).to_contain_text("miles away")
    assert_accessible(page)

    page.get_by_role("link", name="Weekly Food Pantry", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Weekly Food Pantry")
    expect(page.get_by_test_id("hours")).to_be_visible()
    assert_accessible(page)

    # Back shows the search as it was: the filters and the results agree.
    page.go_back()
    expect(page.get_by_test_id("result")).to_have_count(1)
    expect(page.get_by_label("Language spoken", exact=True)).to_have_value("es")
    expect(page.get_by_label("Open", exact=True)).to_have_value("now")
    expect(page.get_by_label("Near ZIP code")).to_have_value("02118")
    page.go_back()  # before "open now"
    expect(page.get_by_test_id("result")).to_have_count(2)
    expect(page.get_by_label("Open", exact=True)).to_have_value("")
    expect(page.get_by_label("Language spoken", exact=True)).to_have_value("es")
    page.go_forward()
    expect(page.get_by_test_id("result")).to_have_count(1)
    expect(page.get_by_label("Open", exact=True)).to_have_value("now")
    page.get_by_role("link", name="Refer to Weekly Food Pantry").click()
    # Started from the directory, a referral first asks whom it is for.
    expect(page).to_have_url(
        re.compile(rf"/referrals/new/\?service={spanish.pk}&need=food-insecurity$")
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Who is this referral for?")
    assert_accessible(page)


def test_the_first_results_show_without_scrolling_past_the_facets(page, live_url):
    """Every need and several languages in the facets still leave the first result in view."""
    if not TaxonomyTerm.objects.exists():
        load_taxonomy()
    referrer = member(ClinicFactory(name="Riverside Clinic"), Role.REFERRER)
    mapping = sdoh_mapping()
    every_need = tuple(dict.fromkeys(codes[0] for codes in mapping.values()))
    for i in range(3):
        directory_service(
            name=f"Neighborhood Hub {i}",
            terms=every_need,
            at=(42.3399, -71.0752),
            languages=("en", "es", "pt", "zh", "vi", "ht", "ar"),
        )

    sign_in(page, live_url, referrer.email)
    page.goto("/directory/")
    expect(page.get_by_test_id("result")).to_have_count(3)
    expect(page.get_by_role("region", name="By need").get_by_role("listitem")).to_have_count(
        len(mapping)
    )
    expect(page.get_by_role("region", name="By language").get_by_role("listitem")).to_have_count(7)
    first = page.get_by_test_id("result").first.bounding_box()
    assert first["y"] + 80 < page.viewport_size["height"], (first, page.viewport_size)
    assert_accessible(page)


def test_an_org_admin_ticks_a_language_and_a_day_by_their_labels_and_saves(page, live_url):
    """The lists of checkboxes on the edit page: each label ticks its own box, nothing else."""
    food_bank = OrganizationFactory(name="Eastside Food Bank")
    admin = member(food_bank, Role.ORG_ADMIN)
    pantry = directory_service(
        name="Weekly Food Pantry", organization=food_bank, languages=("en", "es")
    )
    schedule = ScheduleFactory(service=pantry, byday="TU,TH", opens_at=time(10), closes_at=time(18))

    sign_in(page, live_url, admin.email)
    page.goto(f"/directory/my-services/{pantry.hsds_id}/edit/")
    languages = page.get_by_role("group", name="Languages spoken")
    expect(languages.get_by_role("checkbox", name="Spanish")).to_be_checked()
    languages.get_by_text("Portuguese", exact=True).click()
    expect(languages.get_by_role("checkbox", name="Portuguese")).to_be_checked()
    languages.get_by_role("checkbox", name="Somali").focus()
    page.keyboard.press("Space")
    expect(languages.get_by_role("checkbox", name="Somali")).to_be_checked()

    hours = page.get_by_test_id("hours-row").first
    days = hours.get_by_role("group", name="Days")
    days.get_by_text("Thursday", exact=True).click()  # untick
    days.get_by_text("Friday", exact=True).click()
    expect(days.get_by_role("checkbox", name="Thursday")).not_to_be_checked()
    expect(days.get_by_role("checkbox", name="Friday")).to_be_checked()
    expect(hours.get_by_role("checkbox", name="Delete")).not_to_be_checked()
    assert_accessible(page)

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Services")
    assert sorted(pantry.languages.values_list("code", flat=True)) == ["en", "es", "pt", "so"]
    schedule.refresh_from_db()
    assert schedule.byday == "TU,FR"


def test_an_org_admin_who_saves_hours_without_days_lands_on_a_summary_that_leads_to_the_days(
    page, live_url
):
    """Keyboard: the error summary has focus after the reload, and its link moves focus on."""
    food_bank = OrganizationFactory(name="Eastside Food Bank")
    admin = member(food_bank, Role.ORG_ADMIN)
    pantry = directory_service(name="Weekly Food Pantry", organization=food_bank)
    ScheduleFactory(service=pantry, byday="TU,TH", opens_at=time(10), closes_at=time(18))

    sign_in(page, live_url, admin.email)
    page.goto(f"/directory/my-services/{pantry.hsds_id}/edit/")
    blank = page.get_by_role("group", name="Add hours")
    expect(blank).to_have_accessible_description(
        "Optional. Fill this in to add more opening hours."
    )
    expect(blank.locator(".usa-hint--required")).to_have_count(0)
    blank.get_by_label("Opens at").fill("09:00")
    blank.get_by_label("Closes at").fill("12:00")
    page.get_by_role("button", name="Save").click()

    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("Fix this before saving")
    assert page.evaluate("window.scrollY") < 200  # at the top, where the summary is
    assert_accessible(page)

    page.keyboard.press("Tab")
    link = summary.get_by_role("link", name="Add hours, Days: Choose the days these hours are for.")
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    monday = blank.get_by_role("checkbox", name="Monday")
    expect(monday).to_be_focused()
    expect(blank.get_by_role("group", name="Days").locator("legend")).to_be_in_viewport(ratio=1)
    page.keyboard.press("Space")
    expect(monday).to_be_checked()
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Services")
    assert sorted(pantry.schedules.values_list("byday", flat=True)) == ["MO", "TU,TH"]


def _pantries(count: int) -> None:
    if not TaxonomyTerm.objects.exists():
        load_taxonomy()
    food_bank = OrganizationFactory(name="Eastside Food Bank")
    for i in range(count):
        directory_service(
            name=f"Pantry {i:02}",
            organization=food_bank,
            terms=("food.food-pantry",),
            at=(42.3399, -71.0752),
            languages=("en", "es"),
        )


def test_refused_filters_show_at_their_field_while_typing_and_the_count_is_announced(
    page, live_url
):
    """htmx updates bring errors to their fields, keep the caret, and fill one live region."""
    _pantries(2)
    referrer = member(ClinicFactory(name="Riverside Clinic"), Role.REFERRER)
    sign_in(page, live_url, referrer.email)
    page.goto("/directory/")
    expect(page.get_by_test_id("result-count")).to_have_text("2 services found")
    live = page.locator("#result-status").element_handle()

    zip_field = page.get_by_label("Near ZIP code")
    zip_field.fill("9999")
    zip_field.press("Tab")  # a change: the form searches
    expect(page.locator("#group-zip .usa-error-message")).to_have_text(
        "Enter a 5-digit US ZIP code, like 02118."
    )
    expect(zip_field).to_have_attribute("aria-invalid", "true")
    expect(zip_field).to_have_class(re.compile(r"\busa-input--error\b"))  # the red border
    expect(page.get_by_test_id("result-note")).to_have_text(
        "The ZIP code 9999 was not used, so these results are not limited by distance."
    )
    expect(page.get_by_label("Within")).to_be_focused()  # where Tab took the keyboard
    assert live.evaluate("el => el.isConnected && el.getAttribute('role')") == "status"

    # Words longer than 200 letters come only from a link (the box stops at 200): refused at
    # the field. Typing on keeps the focus and the caret where they are through each update.
    page.goto("/directory/?zip=9999&q=" + "x" * 250)
    expect(page.locator("#group-q .usa-error-message")).to_contain_text("at most 200 characters")
    words = page.get_by_label("Words")
    expect(words).to_have_attribute("maxlength", "200")
    words.fill("")
    words.press_sequentially("pantry 01")
    expect(page.locator("#group-q .usa-error-message")).to_have_count(0)
    expect(page.get_by_test_id("result-count")).to_have_text("1 service found")
    expect(words).to_be_focused()
    expect(words).to_have_value("pantry 01")
    assert words.evaluate("el => el.selectionStart") == len("pantry 01")
    live = page.locator("#result-status").element_handle()

    age = page.get_by_label("Age of the person")
    age.fill("200")
    age.press("Tab")
    expect(page.locator("#group-age .usa-error-message")).to_have_text(
        "Enter an age from 0 to 120."
    )
    expect(page.get_by_test_id("result-note").last).to_contain_text("Age of the person")

    zip_field.fill("02118")
    age.fill("")
    age.press("Tab")
    expect(page.get_by_label("Only services accepting referrals")).to_be_focused()
    expect(page.locator(".usa-error-message")).to_have_count(0)
    expect(page.locator(".usa-input--error")).to_have_count(0)
    expect(page.get_by_test_id("result-count")).to_have_text("1 service found")
    expect(page.get_by_test_id("result-note")).to_have_count(0)
    # The same live region node, never replaced, now says the new count.
    assert live.evaluate("el => el.isConnected && el === document.getElementById('result-status')")
    assert "1 service found" in live.inner_text()
    assert_accessible(page)


def test_typing_words_searches_once_per_pause_every_time_and_the_box_is_never_replaced(
    page, live_url
):
    """After one update the words box must still search (it stopped), once per pause (a swap
    of the box being typed in fired a second search and history entry)."""
    _pantries(2)
    directory_service(name="Rental Assistance", terms=("housing.help-pay-for-housing",))
    referrer = member(ClinicFactory(name="Riverside Clinic"), Role.REFERRER)
    sign_in(page, live_url, referrer.email)
    page.goto("/directory/")
    expect(page.get_by_test_id("result")).to_have_count(3)
    searches = []
    page.on(
        "request",
        lambda r: searches.append(r.url) if r.headers.get("hx-request") else None,
    )
    history = page.evaluate("history.length")
    words = page.get_by_label("Words")
    box = words.element_handle()

    words.press_sequentially("pantry")
    expect(page.get_by_test_id("result")).to_have_count(2)
    page.wait_for_timeout(600)
    assert len(searches) == 1, searches
    words.press_sequentially(" 01", delay=60)
    expect(page.get_by_test_id("result-count")).to_have_text("1 service found")
    expect(page).to_have_url(re.compile(r"q=pantry(%20|\+)01"))
    words.fill("rent")  # a third time, after two updates
    expect(page.get_by_test_id("result")).to_have_text(re.compile("Rental Assistance"))
    page.wait_for_timeout(600)
    assert len(searches) == 3, searches
    assert page.evaluate("history.length") == history + 3
    assert box.evaluate("el => el.isConnected && el === document.getElementById('id_q')")
    expect(words).to_be_focused()

    # A refused ZIP and Enter: the error at its field, one entry in the history, the same box.
    zip_field = page.get_by_label("Near ZIP code")
    zip_box = zip_field.element_handle()
    zip_field.fill("9999")
    zip_field.press("Enter")
    expect(page.locator("#group-zip .usa-error-message")).to_have_count(1)
    page.wait_for_timeout(600)
    # One search: leaving the words box ("change") and the ZIP's "change" before its submit sent
    # what was already sent, and a late answer to one of those added a history entry.
    assert len(searches) == 4, searches
    assert page.evaluate("history.length") == history + 4
    assert zip_box.evaluate("el => el === document.getElementById('id_zip')")
    expect(zip_field).to_be_focused()
    zip_field.press("Tab")  # leaving the box is no new search: nothing changed since Enter
    page.wait_for_timeout(600)
    assert page.evaluate("history.length") == history + 4

    # Enter before the pause: one search, not a second when the pause comes.
    words.fill("pantry")
    words.press("Enter")
    expect(page.get_by_test_id("result")).to_have_count(2)
    page.wait_for_timeout(600)
    assert len(searches) == 5, searches
    assert page.evaluate("history.length") == history + 5


def test_next_and_previous_bring_the_view_and_focus_to_the_result_count(page, live_url):
    _pantries(25)
    referrer = member(ClinicFactory(name="Riverside Clinic"), Role.REFERRER)
    sign_in(page, live_url, referrer.email)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone can turn pages too
    page.goto("/directory/?page=2")
    expect(page.get_by_role("link", name="Previous")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto("/directory/")
    expect(page.get_by_test_id("result")).to_have_count(20)

    page.get_by_role("link", name="Next").click()  # the mouse
    expect(page.get_by_test_id("result")).to_have_count(5)
    expect(page.locator("#result-status")).to_be_focused()
    assert (
        page.evaluate("document.getElementById('result-status').getBoundingClientRect().top") >= 0
    )
    expect(page.locator("#result-status")).to_be_in_viewport()

    page.get_by_role("link", name="Previous").focus()  # the keyboard
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("result")).to_have_count(20)
    expect(page.locator("#result-status")).to_be_focused()
    expect(page.locator("#result-status")).to_be_in_viewport()
    assert_accessible(page)


def test_arrowing_through_a_select_searches_once_and_skip_to_results_works(page, live_url):
    _pantries(2)
    referrer = member(ClinicFactory(name="Riverside Clinic"), Role.REFERRER)
    sign_in(page, live_url, referrer.email)
    page.goto("/directory/")
    expect(page.get_by_test_id("result")).to_have_count(2)
    searches = []
    page.on(
        "request",
        lambda r: searches.append(r.url) if r.headers.get("hx-request") else None,
    )
    history = page.evaluate("history.length")

    need = page.get_by_label("Need", exact=True)
    need.focus()
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    assert need.input_value() != ""
    expect(page).to_have_url(re.compile(r"need=\w"))
    page.wait_for_timeout(1000)  # longer than the delay: no second search comes
    assert len(searches) == 1, searches
    assert page.evaluate("history.length") == history + 1
    assert need.input_value() != ""
    expect(need).to_be_focused()

    # Keyboard users skip the filters: the link appears when tabbed to and lands on the count.
    page.goto("/directory/")
    page.locator("#main-content").focus()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to results")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("#result-status")).to_be_focused()


def test_on_a_phone_the_filters_fold_away_and_the_count_shows_first(page, live_url):
    _pantries(3)
    referrer = member(ClinicFactory(name="Riverside Clinic"), Role.REFERRER)
    sign_in(page, live_url, referrer.email)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/directory/")

    expect(page.get_by_test_id("result-count")).to_be_in_viewport()
    count = page.get_by_test_id("result-count").bounding_box()
    assert count["y"] + count["height"] < 844, count
    # Nothing wider than the screen (the full-width buttons' padding once was).
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(page.get_by_label("Near ZIP code")).to_be_hidden()
    assert_accessible(page)

    filters = page.locator("summary", has_text="Filters")
    filters.focus()
    page.keyboard.press("Enter")  # opens with the keyboard
    expect(page.get_by_label("Near ZIP code")).to_be_visible()
    page.get_by_label("Near ZIP code").fill("02118")
    page.get_by_label("Near ZIP code").press("Enter")
    expect(page).to_have_url(re.compile(r"zip=02118"))
    assert_accessible(page)

    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto("/directory/")
    expect(page.get_by_label("Near ZIP code")).to_be_visible()  # open on a tablet or wider
    expect(filters).to_be_hidden()

    # Folded on a phone, then widened (a tablet turned): open again, with the toggle hidden.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/directory/")
    expect(page.get_by_label("Near ZIP code")).to_be_hidden()
    page.set_viewport_size({"width": 1024, "height": 800})
    expect(page.get_by_label("Near ZIP code")).to_be_visible()


def test_a_search_for_a_patient_offers_their_language_in_one_click(page, live_url):
    _pantries(1)
    clinic = ClinicFactory(name="Riverside Clinic")
    referrer = member(clinic, Role.REFERRER)
    patient = PatientFactory(
        organization=clinic, given_name="Maria", family_name="Lopez", preferred_language="es"
    )
    sign_in(page, live_url, referrer.email)
    page.goto(f"/directory/?patient={patient.pk}")

    banner = page.get_by_test_id("patient-banner")
    expect(banner).to_contain_text("Searching for Maria Lopez")
    expect(page.get_by_label("Language spoken", exact=True)).to_have_value("")
    assert_accessible(page)
    banner.get_by_role("link", name="Only services that speak Spanish").click()
    expect(page.get_by_label("Language spoken", exact=True)).to_have_value("es")
    expect(page.get_by_test_id("language-offer")).to_have_count(0)
    page.get_by_role("link", name="Clear all filters").click()
    expect(page).to_have_url(re.compile(rf"/directory/\?patient={patient.pk}$"))
    page.get_by_role("link", name="Back to Maria Lopez’s page").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Maria Lopez")


def test_a_referrer_switches_to_spanish_and_searches_the_directory_in_spanish(page, live_url):
    """The footer's language picker makes the whole directory Spanish, lang="es" included."""
    if not TaxonomyTerm.objects.exists():
        load_taxonomy()
    referrer = member(ClinicFactory(name="Riverside Clinic"), Role.REFERRER)
    pantry = directory_service(
        name="Weekly Food Pantry",
        organization=OrganizationFactory(name="Eastside Food Bank"),
        terms=("food.food-pantry",),
        at=(42.3399, -71.0752),
        languages=("en", "es", "ht"),
    )
    ScheduleFactory(service=pantry, **AROUND_THE_CLOCK)

    sign_in(page, live_url, referrer.email)
    page.get_by_role("link", name="Directory", exact=True).click()
    page.get_by_label("Language", exact=True).select_option("es")
    page.get_by_role("button", name="Change language").click()

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Buscar un servicio comunitario")
    expect(page.get_by_label("Necesidad", exact=True)).to_contain_text("Cualquier necesidad")
    page.get_by_label("Necesidad", exact=True).select_option("food-insecurity")
    page.get_by_label("Cerca del código postal").fill("02118")
    page.get_by_label("Cerca del código postal").press("Enter")
    expect(page.get_by_test_id("result-count")).to_have_text("Se encontró 1 servicio")
    result = page.get_by_test_id("result")
    expect(result).to_contain_text("Abierto ahora")
    expect(result).to_contain_text("Idiomas: Inglés, Español, Criollo haitiano")
    expect(result).to_contain_text("Cupo: Acepta nuevos clientes")
    expect(page.get_by_test_id("distance")).to_have_text("a 0,3 millas")
    expect(page.get_by_role("heading", name="Por idioma")).to_be_visible()
    for english in ("Any need", "Languages:", "Capacity:", "English", "Haitian Creole", "Open now"):
        expect(page.locator("main")).not_to_contain_text(english)
    # The footer's picker names each language in its own, so English is there to go back to.
    picker = page.get_by_label("Idioma", exact=True)
    expect(picker.locator('option[lang="en"]')).to_have_text("English")
    expect(picker.locator('option[lang="es"]')).to_have_text("Español")
    # An error at its field, said in Spanish.
    page.get_by_label("Edad de la persona").fill("200")
    page.get_by_label("Edad de la persona").press("Enter")
    expect(page.locator("#group-age")).to_contain_text("Escriba una edad de 0 a 120.")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    assert_accessible(page)

    page.get_by_role("link", name="Weekly Food Pantry", exact=True).click()
    expect(page.get_by_test_id("hours")).to_contain_text("Abierto las 24 horas")
    expect(page.locator("body")).not_to_contain_text("Capacity:")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    assert_accessible(page)
