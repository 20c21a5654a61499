"""The search page says what it did with the filters: errors at their field, on full pages and
htmx updates alike, what was not used, and whom the search is for."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.urls import reverse

from tests.factories import PatientFactory, directory_service

pytestmark = pytest.mark.usefixtures("taxonomy")

SEARCH = reverse("directory:search")


def htmx_get(client, user, query):
    client.force_login(user)
    return html_lib.unescape(client.get(SEARCH, query, HTTP_HX_REQUEST="true").content.decode())


def oob_group(html: str, name: str) -> str:
    """The field group an htmx update swaps in out of band for the field ``name``."""
    match = re.search(rf'<div id="group-{name}" hx-swap-oob="true">(.*?)\n</div></div>', html, re.S)
    assert match, f"no out-of-band group for {name}"
    return match.group(1)


def status(html: str) -> str:
    match = re.search(r'<div id="result-status"[^>]*>(.*?)</div>', html, re.S)
    assert match
    return " ".join(match.group(1).split())


# --- 1 and 9: an error shows at its field on an htmx update too ------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"zip": "9999"}, "zip", "Enter a 5-digit US ZIP code, like 02118."),
        ({"q": "x" * 250}, "q", "Ensure this value has at most 200 characters"),
        ({"age": "200"}, "age", "Enter an age from 0 to 120."),
        ({"age": "-1"}, "age", "Enter an age from 0 to 120."),
    ],
    ids=["short-zip", "long-words", "age-200", "age-minus-1"],
)
def test_an_htmx_update_shows_a_refused_filter_at_its_field_and_says_it_was_not_used(
    client, referrer, pantry, query, field, message
):
    html = htmx_get(client, referrer, query)

    assert html.lstrip().startswith('<div id="results">')
    group = oob_group(html, field)
    assert "usa-form-group--error" in group
    assert f'id="id_{field}_error"' in group
    assert message in group
    assert "not used" in status(html)
    assert "Weekly Food Pantry" in html  # the other filters still search


def test_a_short_zip_is_said_not_to_limit_the_results_by_distance(client, referrer, pantry):
    html = htmx_get(client, referrer, {"zip": "9999"})

    assert "The ZIP code 9999 was not used, so these results are not limited by distance." in (
        status(html)
    )


def test_an_htmx_update_without_errors_clears_the_fields_and_notes(client, referrer, pantry):
    html = htmx_get(client, referrer, {"zip": "02118"})

    assert "usa-form-group--error" not in html
    assert "not used" not in status(html)
    assert 'value="02118"' in oob_group(html, "zip")


def test_the_form_leaves_checking_to_the_server_so_a_bad_age_reaches_it(client, referrer):
    client.force_login(referrer)

    html = client.get(SEARCH).content.decode()

    assert re.search(r'<form [^>]*role="search"[^>]* novalidate', html)


# --- 2: ZIP codes we cannot place, and nothing near a ZIP code --------------------------------


def test_a_five_digit_zip_without_a_location_is_not_called_malformed(client, referrer, pantry):
    html = htmx_get(client, referrer, {"zip": "02101"})

    group = oob_group(html, "zip")
    assert "We have no location for the ZIP code 02101" in group
    assert "Try a nearby ZIP code, like 02108, or the person's home ZIP code." in group
    assert "5-digit" not in group


@pytest.mark.parametrize(
    ("radius", "advice"),
    [("10", "Try a larger distance or fewer filters."), ("50", "Try another ZIP code")],
)
def test_no_services_near_a_known_zip_says_how_far_it_looked(
    client, referrer, pantry, radius, advice
):
    html = htmx_get(client, referrer, {"zip": "90210", "radius": radius})

    assert "0 services found" in status(html)
    assert f"No services within {radius} miles of ZIP code 90210. {advice}" in html


# --- 4: one live region, filled anew by each update -------------------------------------------


def test_the_count_is_outside_the_results_and_an_update_fills_it_out_of_band(
    client, referrer, pantry
):
    client.force_login(referrer)
    page = client.get(SEARCH).content.decode()
    html = htmx_get(client, referrer, {"q": "pantry"})

    assert page.index('id="result-status"') < page.index('<div id="results">')
    assert 'role="status"' in page[page.index('id="result-status"') - 100 :][:300]
    assert 'role="status"' not in html[: html.index('id="result-status"')]
    assert (
        '<div id="result-status" role="status" tabindex="-1" class="handoff-result-status" hx-swap-oob="innerHTML">'
        in html
    )
    assert "1 service found" in status(html)


# --- 6: a card without hours says so ----------------------------------------------------------


def test_a_result_without_hours_says_to_call_before_going(client, referrer, food_bank):
    directory_service(name="Hours Unknown Pantry", organization=food_bank, at=(42.34, -71.07))

    html = htmx_get(client, referrer, {"q": "Hours Unknown"})

    card = html[html.index("Hours Unknown Pantry") :]
    assert "No opening hours are listed. Call before going." in card
    assert "<li>\n              </li>" not in html


# --- 7: whom the search is for ----------------------------------------------------------------


def test_a_search_for_a_patient_names_them_and_links_back(client, referrer, clinic, pantry):
    patient = PatientFactory(organization=clinic, given_name="Maria", family_name="Lopez")
    client.force_login(referrer)

    html = html_lib.unescape(client.get(SEARCH, {"patient": patient.pk}).content.decode())

    assert "Searching for Maria Lopez" in html
    assert (
        f'<a href="{reverse("patients:detail", args=[patient.pk])}">Back to Maria Lopez’s page</a>'
        in html
    )
    assert f'href="{SEARCH}?patient={patient.pk}">Clear all filters</a>' in html


def test_another_organizations_patient_is_not_named(client, referrer, other_org, pantry):
    foreign = PatientFactory(organization=other_org, given_name="Hidden", family_name="Person")
    client.force_login(referrer)

    response = client.get(SEARCH, {"patient": foreign.pk})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Hidden" not in html
    assert "Person" not in html.replace("Personal", "")
    assert 'data-testid="patient-banner"' not in html
    assert "Weekly Food Pantry" in html


def test_a_patient_who_prefers_spanish_is_offered_not_given_a_language_filter(
    client, referrer, clinic, pantry, food_bank
):
    directory_service(
        name="English Only Pantry", organization=food_bank, at=(42.34, -71.07), languages=("en",)
    )
    patient = PatientFactory(organization=clinic, preferred_language="es")
    client.force_login(referrer)

    html = html_lib.unescape(
        client.get(SEARCH, {"patient": patient.pk, "zip": "02118"}).content.decode()
    )

    assert "English Only Pantry" in html  # nothing preset
    assert '<option value="" selected>Any language</option>' in html
    offer = re.search(r'<a href="([^"]*)" data-testid="language-offer">([^<]*)</a>', html)
    assert offer.group(2) == "Only services that speak Spanish"
    assert offer.group(1) == f"{SEARCH}?patient={patient.pk}&zip=02118&language=es"

    chosen = htmx_get(client, referrer, {"patient": patient.pk, "language": "es"})
    assert 'id="patient-banner" ' in chosen  # the banner is updated with the results
    assert "language-offer" not in chosen


def test_an_english_speaking_patient_gets_no_language_offer(client, referrer, clinic, pantry):
    patient = PatientFactory(organization=clinic, preferred_language="en")
    client.force_login(referrer)

    html = client.get(SEARCH, {"patient": patient.pk}).content.decode()

    assert 'data-testid="patient-banner"' in html
    assert "language-offer" not in html


# --- 8: facet counts and sorting explained ----------------------------------------------------


def test_facets_say_their_counts_are_for_picking_that_value_instead(client, referrer, pantry):
    html = htmx_get(client, referrer, {})

    assert "How many you would find with this need instead" in html
    assert "How many you would find with this language instead" in html


def test_the_sort_choices_are_short_and_the_hint_says_nearest_needs_a_zip(client, referrer):
    client.force_login(referrer)

    html = html_lib.unescape(client.get(SEARCH).content.decode())

    assert (
        '<option value="">Automatic</option>' in html
        or '<option value="" selected>Automatic</option>' in html
    )
    assert '<option value="distance">Nearest first</option>' in html
    assert '<option value="relevance">Best match</option>' in html
    assert "Nearest first needs a ZIP code." in html


@pytest.mark.parametrize(
    ("query", "noted"),
    [
        ({"sort": "distance"}, True),
        ({"radius": "5"}, True),
        ({"radius": "10"}, False),
        ({"sort": "distance", "zip": "02118"}, False),
        ({"sort": "relevance"}, False),
    ],
    ids=["nearest", "radius", "default-radius", "with-zip", "best-match"],
)
def test_distance_without_a_zip_is_noted_in_the_results(client, referrer, pantry, query, noted):
    html = htmx_get(client, referrer, query)

    assert ("Distance needs a ZIP code" in status(html)) is noted


@pytest.mark.parametrize("page", ["0", "abc"])
def test_a_page_number_out_of_range_shows_the_first_page_with_no_note(client, referrer, page):
    client.force_login(referrer)

    response = client.get(reverse("directory:search"), {"page": page})

    assert response.status_code == 200
    assert 'data-testid="result-note"' not in response.content.decode()


def test_a_word_the_directory_does_not_know_says_what_was_searched_for_instead(
    client, referrer, pantry
):
    html = htmx_get(client, referrer, {"q": "pantyr"})

    assert "1 service found" in html
    assert "“pantyr” is not a word in the directory, so we also searched for “pantry”" in html
    # A known word needs no note.
    assert "is not a word in the directory" not in htmx_get(client, referrer, {"q": "pantry"})


def test_a_spanish_word_for_a_need_says_what_was_searched_for_in_english(client, referrer, pantry):
    html = htmx_get(client, referrer, {"q": "comida"})

    assert "1 service found" in html
    assert (
        "Services here are described in English, so for “comida” we also searched for “food”,"
        " “baby food and formula”." in html
    )
    assert "is not a word in the directory" not in html
