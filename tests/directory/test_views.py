from __future__ import annotations

from datetime import time

import pytest
from django.urls import reverse

from accounts.models import Role
from directory.models import WEEKDAYS, Service
from tests.factories import ScheduleFactory, directory_service, member

pytestmark = pytest.mark.usefixtures("taxonomy")


def sign_in(client, user):
    client.force_login(user)
    return client


# --- search ---------------------------------------------------------------------------------


def test_search_sends_people_who_are_not_signed_in_to_the_sign_in_page(client, db):
    response = client.get(reverse("directory:search"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_search_by_need_near_a_zip_lists_the_service_with_its_facts(client, referrer, pantry):
    sign_in(client, referrer)

    response = client.get(
        reverse("directory:search"), {"need": "food-insecurity", "zip": "02118", "radius": "5"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Weekly Food Pantry" in html
    assert "Eastside Food Bank" in html
    assert "miles away" in html
    assert "Refer" in html


def test_a_result_card_shows_hours_distance_languages_and_a_refer_link_escaped(
    client, referrer, food_bank
):
    service = directory_service(
        name="<b>Pan & Co</b>",
        organization=food_bank,
        terms=("food.food-pantry",),
        at=(42.3399, -71.0752),
        languages=("en", "es"),
    )
    for day in ("MO", "TU", "WE", "TH", "FR", "SA", "SU"):
        ScheduleFactory(service=service, byday=day, opens_at=time(9), closes_at=time(12, 30))
        ScheduleFactory(service=service, byday=day, opens_at=time(14), closes_at=time(17))
    sign_in(client, referrer)

    response = client.get(reverse("directory:search"), {"zip": "02118", "patient": "7"})

    html = response.content.decode()
    assert "<b>Pan" not in html  # the name is escaped everywhere, the Refer label too
    assert 'Refer<span class="usa-sr-only"> to &lt;b&gt;Pan &amp; Co&lt;/b&gt;</span>' in html
    assert (
        f'href="{reverse("directory:service", args=[service.hsds_id])}?zip=02118&amp;patient=7"'
        in html
    )
    assert f'href="{reverse("referrals:new")}?service={service.pk}&amp;patient=7"' in html
    assert "Today: 9:00 AM–12:30 PM, 2:00 PM–5:00 PM" in html
    assert "Languages: English, Spanish" in html  # (the factory names each language by its code)
    assert "0.3 miles away" in html  # 0.28


def test_only_referrers_see_a_refer_button_on_a_result(client, referrer, staff, pantry):
    refer_link = f'href="{reverse("referrals:new")}?service={pantry.pk}"'

    html = (
        sign_in(client, referrer).get(reverse("directory:search"), {"q": "pantry"}).content.decode()
    )
    assert refer_link in html

    html = sign_in(client, staff).get(reverse("directory:search"), {"q": "pantry"}).content.decode()
    assert "Weekly Food Pantry" in html
    assert refer_link not in html
    assert "usa-card__footer" not in html


def test_facet_links_keep_the_other_filters_start_at_page_one_and_mark_the_chosen_one(
    client, referrer, pantry
):
    sign_in(client, referrer)

    response = client.get(
        reverse("directory:search"),
        {"q": "pantry", "need": "food-insecurity", "language": "es", "page": "1"},
    )

    html = response.content.decode()
    chosen_need = '<a href="?q=pantry&amp;language=es&amp;need=food-insecurity" aria-current="true" class="text-bold">'
    assert chosen_need in html
    assert '<a href="?q=pantry&amp;need=food-insecurity&amp;language=en">' in html  # not chosen
    assert (
        '<a href="?q=pantry&amp;need=food-insecurity&amp;language=es" aria-current="true"' in html
    )
    assert "page=" not in html.split('id="facet-needs"')[1].split("</section>")[0]


def test_search_with_htmx_returns_only_the_results_fragment(client, referrer, pantry):
    sign_in(client, referrer)

    response = client.get(reverse("directory:search"), {"q": "pantry"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results">')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_search_shows_an_unknown_zip_at_its_field_and_still_searches(client, referrer, pantry):
    sign_in(client, referrer)

    response = client.get(reverse("directory:search"), {"zip": "00000"})

    assert "no location for the ZIP code 00000" in response.content.decode()
    assert "Weekly Food Pantry" in response.content.decode()


@pytest.mark.parametrize(
    ("radius", "error"),
    [(None, False), ("", False), ("abc", True)],
    ids=["left-out", "empty", "refused"],
)
def test_the_radius_shown_is_the_radius_searched_when_the_link_has_none_or_a_bad_one(
    client, referrer, pantry, food_bank, radius, error
):
    # 7 miles from 02118's centre: inside the 10 miles searched, outside the first choice's 1.
    directory_service(
        name="Seven Miles Out",
        organization=food_bank,
        terms=("food.food-pantry",),
        at=(42.44, -71.07),
    )
    sign_in(client, referrer)
    query = {"zip": "02118"} | ({} if radius is None else {"radius": radius})

    response = client.get(reverse("directory:search"), query)

    html = response.content.decode()
    assert "Seven Miles Out" in html
    radius_select = html[
        html.index('name="radius"') : html.index("</select>", html.index('name="radius"'))
    ]
    assert '<option value="10" selected>' in radius_select
    assert radius_select.count(" selected>") == 1
    assert ("abc is not one of the available choices" in html) is error


def test_search_page_runs_a_bounded_number_of_queries(
    client, referrer, food_bank, django_assert_max_num_queries
):
    for i in range(30):
        service = directory_service(
            name=f"Pantry {i}",
            organization=food_bank,
            terms=("food.food-pantry",),
            at=(42.34, -71.07),
            languages=("en", "es"),
        )
        # Open around the clock, so "open now" finds all 30 whatever the hour (the page's
        # queries, prefetches included, then all run).
        ScheduleFactory(
            service=service, byday="MO,TU,WE,TH,FR,SA,SU", opens_at=time(0), closes_at=time(0)
        )
    sign_in(client, referrer)

    # SQLite: session, user, memberships, the form's terms, the word spellings (once), count,
    # page, four prefetches (phones, languages, hours, locations), two facets, the unread
    # badge, and the first request's session save (the current organization: savepoint,
    # update, release).
    with django_assert_max_num_queries(17):
        response = client.get(
            reverse("directory:search"),
            {
                "q": "pantry",
                "need": "food-insecurity",
                "zip": "02118",
                "radius": "10",
                "open": "now",
                "language": "es",
            },
        )
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="result"') == 20


def test_a_result_opens_its_service_page_with_the_search_to_go_back_to_and_refer_from(
    client, referrer, clinic, pantry
):
    import html as html_lib

    from tests.factories import PatientFactory

    patient = PatientFactory(organization=clinic)
    sign_in(client, referrer)
    search = {
        "need": "food-insecurity",
        "zip": "02118",
        "radius": "5",
        "language": "",
        "patient": str(patient.pk),
    }

    results = html_lib.unescape(client.get(reverse("directory:search"), search).content.decode())

    service_url = reverse("directory:service", args=[pantry.hsds_id])
    context = (
        f"need=food-insecurity&zip=02118&radius=5&patient={patient.pk}"  # empty filters left out
    )
    assert f'href="{service_url}?{context}"' in results
    assert (
        f'href="{reverse("referrals:new")}?service={pantry.pk}&patient={patient.pk}&need=food-insecurity"'
        in results
    )

    page = html_lib.unescape(client.get(f"{service_url}?{context}").content.decode())

    assert f'<a href="{reverse("directory:search")}?{context}">Back to the results</a>' in page
    assert (
        f'href="{reverse("referrals:new")}?service={pantry.pk}&patient={patient.pk}&need=food-insecurity"'
        in page
    )


def test_a_service_pages_terms_search_for_more_of_their_kind_where_the_search_looked(
    client, referrer, clinic, pantry
):
    import html as html_lib

    from tests.factories import PatientFactory

    patient = PatientFactory(organization=clinic)
    sign_in(client, referrer)
    term = pantry.taxonomy_terms.first()
    service_url = reverse("directory:service", args=[pantry.hsds_id])
    opened_from = (
        f"q=pantry&need=food-insecurity&zip=02118&radius=5&language=es&page=2&patient={patient.pk}"
    )

    page = html_lib.unescape(client.get(f"{service_url}?{opened_from}").content.decode())

    # The place, language and person stay; the words, need and page give way to the term.
    search = reverse("directory:search")
    assert (
        f'href="{search}?zip=02118&radius=5&language=es&patient={patient.pk}&term={term.pk}"'
        in page
    )
    plain = html_lib.unescape(client.get(service_url).content.decode())
    assert f'href="{search}?term={term.pk}"' in plain


def test_refer_from_a_need_search_without_a_patient_keeps_the_need_while_choosing_the_person(
    client, referrer, clinic, pantry
):
    import html as html_lib

    from tests.factories import PatientFactory

    patient = PatientFactory(organization=clinic, given_name="Rosa", family_name="Diaz")
    sign_in(client, referrer)

    choose = client.get(reverse("referrals:new"), {"service": pantry.pk, "need": "food-insecurity"})

    page = html_lib.unescape(choose.content.decode())
    assert f'href="?service={pantry.pk}&patient={patient.pk}&need=food-insecurity"' in page
    assert (
        '<input type="hidden" name="need" value="food-insecurity">' in page
    )  # kept by the name search too
    form = client.get(
        reverse("referrals:new"),
        {"service": pantry.pk, "patient": patient.pk, "need": "food-insecurity"},
    )
    assert form.context["form"]["need_category"].value() == "food-insecurity"


def test_a_service_page_says_when_its_capacity_changed_in_words(
    client, referrer, food_admin, pantry
):
    from datetime import timedelta

    pantry.set_capacity(Service.Capacity.WAITLIST, by=food_admin)
    sign_in(client, referrer)
    url = reverse("directory:service", args=[pantry.hsds_id])

    assert "Capacity: Waitlist (updated just now)" in client.get(url).content.decode()
    Service.objects.filter(pk=pantry.pk).update(
        capacity_updated_at=pantry.capacity_updated_at - timedelta(hours=3)
    )
    assert "Capacity: Waitlist (updated 3\xa0hours ago)" in client.get(url).content.decode()


@pytest.mark.parametrize(
    ("days", "promise"),
    [
        (0, "Promises a response the same business day"),
        (1, "Promises a response within 1 business day<"),
        (3, "Promises a response within 3 business days"),
    ],
)
def test_a_service_page_words_its_response_promise_for_the_number_of_days(
    client, referrer, pantry, days, promise
):
    Service.objects.filter(pk=pantry.pk).update(response_time_days=days)
    sign_in(client, referrer)

    page = client.get(reverse("directory:service", args=[pantry.hsds_id])).content.decode()

    assert promise in page


@pytest.mark.parametrize(
    ("capacity", "warning"),
    [
        ("not_accepting", "This service says it is not accepting new clients right now"),
        ("waitlist", "This service says it has a waitlist"),
    ],
)
def test_a_service_page_warns_beside_refer_when_the_service_says_it_is_full(
    client, referrer, food_admin, pantry, capacity, warning
):
    pantry.set_capacity(capacity, by=food_admin)
    sign_in(client, referrer)

    page = client.get(reverse("directory:service", args=[pantry.hsds_id])).content.decode()

    refer = page[page.index('<section id="refer"') :]
    assert f"{warning} (updated just now). Call them first, or choose another service." in refer
    assert refer.index(warning) < refer.index('data-testid="refer"')


def test_a_service_page_of_a_service_accepting_clients_has_no_warning(client, referrer, pantry):
    sign_in(client, referrer)

    page = client.get(reverse("directory:service", args=[pantry.hsds_id])).content.decode()

    assert 'data-testid="capacity-warning"' not in page


@pytest.mark.parametrize("days", [0, 3])
def test_a_service_that_takes_no_referrals_through_handoff_promises_no_response_time(
    client, referrer, pantry, days
):
    Service.objects.filter(pk=pantry.pk).update(accepts_referrals=False, response_time_days=days)
    sign_in(client, referrer)

    page = client.get(reverse("directory:service", args=[pantry.hsds_id])).content.decode()

    assert "does not take referrals through Handoff" in page
    assert "Promises a response" not in page


@pytest.mark.parametrize(
    ("days", "promise"), [(0, "the same business day."), (1, "within 1 business day.")]
)
def test_the_referral_form_words_the_receivers_promise_for_the_number_of_days(
    client, referrer, clinic, pantry, days, promise
):
    from tests.factories import PatientFactory

    Service.objects.filter(pk=pantry.pk).update(response_time_days=days)
    patient = PatientFactory(organization=clinic)
    sign_in(client, referrer)

    page = client.get(
        reverse("referrals:new"), {"service": pantry.pk, "patient": patient.pk}
    ).content.decode()

    assert f"Eastside Food Bank promises a first response {promise}" in page


def test_a_service_page_opened_on_its_own_goes_back_to_the_directory_and_refers_anyone(
    client, referrer, pantry
):
    sign_in(client, referrer)

    page = client.get(reverse("directory:service", args=[pantry.hsds_id])).content.decode()

    assert f'<a href="{reverse("directory:search")}">Back to the directory</a>' in page
    assert f'href="{reverse("referrals:new")}?service={pantry.pk}"' in page


def test_a_distance_shows_rounded_to_a_tenth_of_a_mile(client, referrer, food_bank):
    # 02118's centre is 42.3362, -71.0729: 0.0041 degrees of latitude north is 0.28 miles.
    directory_service(
        name="Near Pantry",
        organization=food_bank,
        terms=("food.food-pantry",),
        at=(42.3403, -71.0729),
    )
    sign_in(client, referrer)

    response = client.get(reverse("directory:search"), {"zip": "02118"})

    assert response.context["results"].services[0].distance == pytest.approx(0.283, abs=0.001)
    assert "0.3 miles away" in response.content.decode()


# --- service page ---------------------------------------------------------------------------


def test_service_page_needs_sign_in(client, pantry):
    response = client.get(reverse("directory:service", args=[pantry.hsds_id]))
    assert response.status_code == 302


def test_service_page_shows_hours_locations_and_the_refer_section(client, referrer, pantry):
    sign_in(client, referrer)

    response = client.get(reverse("directory:service", args=[pantry.hsds_id]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Weekly opening hours of Weekly Food Pantry" in html
    assert "10:00 AM–6:00 PM" in html
    assert "1 Main St" in html
    assert 'id="refer"' in html


def test_an_inactive_service_of_another_organization_is_404(client, referrer, other_org):
    hidden = directory_service(name="Gone", organization=other_org, status="inactive")
    sign_in(client, referrer)

    assert client.get(reverse("directory:service", args=[hidden.hsds_id])).status_code == 404


# --- my services and editing ----------------------------------------------------------------


def test_my_services_needs_sign_in(client, db):
    assert client.get(reverse("directory:my_services")).status_code == 302


def test_my_services_lists_only_the_organizations_own_services(client, staff, pantry, other_org):
    directory_service(name="Not ours", organization=other_org)
    sign_in(client, staff)

    html = client.get(reverse("directory:my_services")).content.decode()

    assert "Weekly Food Pantry" in html
    assert "Not ours" not in html


def test_referrers_cannot_open_the_services_page(client, referrer):
    sign_in(client, referrer)
    assert client.get(reverse("directory:my_services")).status_code == 403


def test_editing_needs_sign_in(client, pantry):
    response = client.get(reverse("directory:edit_service", args=[pantry.hsds_id]))
    assert response.status_code == 302


def test_an_org_admin_cannot_edit_another_organizations_service(client, stranger, pantry):
    sign_in(client, stranger)

    url = reverse("directory:edit_service", args=[pantry.hsds_id])

    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "Hijacked"}).status_code == 404
    pantry.refresh_from_db()
    assert pantry.name == "Weekly Food Pantry"


def edit_data(service, **overrides):
    data = {
        "name": service.name,
        "description": service.description,
        "eligibility_description": "",
        "minimum_age": "",
        "maximum_age": "",
        "accepts_referrals": "on",
        "capacity": service.capacity,
        "response_time_days": "2",
        "application_process": "",
        "fees_description": "",
        "languages": ["en", "es"],
        "hours-TOTAL_FORMS": "1",
        "hours-INITIAL_FORMS": "0",
        "hours-MIN_NUM_FORMS": "0",
        "hours-MAX_NUM_FORMS": "1000",
        "hours-0-days": [],
        "hours-0-opens_at": "",
        "hours-0-closes_at": "",
        "hours-0-timezone": "America/New_York",
    }
    data.update(overrides)
    return data


def test_org_admin_edits_capacity_languages_and_hours_and_search_sees_it_at_once(
    client, food_admin, pantry
):
    pantry.schedules.all().delete()
    sign_in(client, food_admin)
    url = reverse("directory:edit_service", args=[pantry.hsds_id])
    assert client.get(url).status_code == 200

    response = client.post(
        url,
        edit_data(
            pantry,
            capacity="waitlist",
            response_time_days="3",
            languages=["en", "vi"],
            **{"hours-0-days": ["SA"], "hours-0-opens_at": "08:00", "hours-0-closes_at": "12:00"},
        ),
    )

    assert response.status_code == 302
    pantry.refresh_from_db()
    assert pantry.capacity == Service.Capacity.WAITLIST
    assert pantry.capacity_updated_by == food_admin
    assert pantry.response_time_days == 3
    assert sorted(pantry.languages.values_list("code", flat=True)) == ["en", "vi"]
    assert [(s.byday, s.opens_at) for s in pantry.schedules.all()] == [("SA", time(8))]
    client.force_login(member(pantry.organization, Role.REFERRER))
    html = client.get(reverse("directory:search"), {"language": "vi"}).content.decode()
    assert "Weekly Food Pantry" in html
    assert "Waitlist" in html


def test_a_bad_age_range_is_shown_at_the_field_and_nothing_changes(client, food_admin, pantry):
    sign_in(client, food_admin)
    url = reverse("directory:edit_service", args=[pantry.hsds_id])

    response = client.post(url, edit_data(pantry, minimum_age="60", maximum_age="18"))

    assert response.status_code == 400
    assert "must not be below the minimum age" in response.content.decode()
    pantry.refresh_from_db()
    assert pantry.minimum_age is None


def test_hours_closing_when_they_open_are_refused_at_the_field_and_nothing_changes(
    client, food_admin, pantry
):
    sign_in(client, food_admin)
    url = reverse("directory:edit_service", args=[pantry.hsds_id])
    before = list(pantry.schedules.values_list("byday", "opens_at", "closes_at"))

    response = client.post(
        url,
        edit_data(
            pantry,
            **{"hours-0-days": ["TH"], "hours-0-opens_at": "10:00", "hours-0-closes_at": "10:00"},
        ),
    )

    assert response.status_code == 400
    assert "The closing time is the same as the opening time." in response.content.decode()
    assert list(pantry.schedules.values_list("byday", "opens_at", "closes_at")) == before


def hours_row(page: str, legend: str) -> str:
    """The markup of the hours row with this legend, up to the next row or the Save button."""
    start = page.index(f'<legend class="usa-legend text-bold">{legend}</legend>')
    ends = [i for i in (page.find("hours-row", start), page.find("Save</button>", start)) if i > 0]
    return page[start : min(ends)]


def test_hours_typed_without_days_are_listed_at_the_top_linked_to_the_days_and_nothing_changes(
    client, food_admin, pantry
):
    sign_in(client, food_admin)
    url = reverse("directory:edit_service", args=[pantry.hsds_id])
    existing = pantry.schedules.get()
    data = edit_data(
        pantry,
        **{
            "hours-TOTAL_FORMS": "2",
            "hours-INITIAL_FORMS": "1",
            "hours-0-id": existing.pk,
            "hours-0-days": ["TU", "TH"],
            "hours-0-opens_at": "10:00",
            "hours-0-closes_at": "18:00",
            "hours-1-opens_at": "09:00",
            "hours-1-closes_at": "12:00",
            "hours-1-timezone": "America/New_York",
        },
    )

    response = client.post(url, data)

    assert response.status_code == 400
    page = response.content.decode()
    summary = page[page.index('data-testid="error-summary"') : page.index("<form")]
    assert 'role="alert" tabindex="-1" autofocus' in page[page.index("handoff-error-summary") :]
    assert "Fix this before saving" in summary
    assert (
        '<li><a href="#id_hours-1-days_0">Add hours, Days: Choose the days these hours are for.</a></li>'
        in summary
    )
    assert 'id="id_hours-1-days_0"' in page
    assert page.index("error-summary") < page.index("<form")
    assert list(pantry.schedules.values_list("pk", "byday")) == [(existing.pk, "TU,TH")]
    # The row being filled in now marks what it needs.
    assert "usa-hint--required" in hours_row(page, "Add hours")


def test_the_error_summary_lists_every_error_in_page_order_each_linked_to_its_input(
    client, food_admin, pantry
):
    sign_in(client, food_admin)
    url = reverse("directory:edit_service", args=[pantry.hsds_id])

    response = client.post(
        url,
        edit_data(
            pantry,
            name="",
            minimum_age="60",
            maximum_age="18",
            **{"hours-0-days": ["TH"], "hours-0-opens_at": "10:00", "hours-0-closes_at": "10:00"},
        ),
    )

    summary = response.content.decode().split('data-testid="error-summary"')[1].split("<form")[0]
    assert "Fix these 3 things before saving" in summary
    links = [line.strip() for line in summary.splitlines() if line.strip().startswith("<li>")]
    assert links == [
        '<li><a href="#id_name">Name: This field is required.</a></li>',
        '<li><a href="#id_maximum_age">Maximum age: The maximum age must not be below the minimum age.</a></li>',
        '<li><a href="#id_hours-0-closes_at">Add hours, Closes at: The closing time is the same as '
        "the opening time. For open all day, enter 12:00 AM for both.</a></li>",
    ]


def test_a_page_without_errors_has_no_error_summary(client, food_admin, pantry):
    sign_in(client, food_admin)

    page = client.get(reverse("directory:edit_service", args=[pantry.hsds_id])).content.decode()

    assert "error-summary" not in page


def test_the_blank_add_hours_row_is_marked_optional_not_required(client, food_admin, pantry):
    sign_in(client, food_admin)

    page = client.get(reverse("directory:edit_service", args=[pantry.hsds_id])).content.decode()

    assert "usa-hint--required" in hours_row(page, "Hours 1")
    blank = hours_row(page, "Add hours")
    assert "usa-hint--required" not in blank
    assert "Optional. Fill this in to add more opening hours." in blank


def test_hours_from_midnight_to_midnight_save_and_show_as_open_24_hours(client, food_admin, pantry):
    pantry.schedules.all().delete()
    sign_in(client, food_admin)
    url = reverse("directory:edit_service", args=[pantry.hsds_id])

    response = client.post(
        url,
        edit_data(
            pantry,
            **{"hours-0-days": WEEKDAYS, "hours-0-opens_at": "00:00", "hours-0-closes_at": "00:00"},
        ),
    )

    assert response.status_code == 302
    client.force_login(member(pantry.organization, Role.REFERRER))
    page = client.get(reverse("directory:service", args=[pantry.hsds_id])).content.decode()
    assert page.count("Open 24 hours") == 7
    assert "12:00 AM" not in page
    results = client.get(reverse("directory:search"), {"q": "pantry"}).content.decode()
    assert "Today: Open 24 hours" in results


@pytest.mark.parametrize(
    "data",
    [
        {},
        {
            "q": 'rent "help" <b>',
            "need": "food-insecurity",
            "zip": "02118",
            "radius": "5",
            "open": "now",
        },
        {
            "zip": "00000",
            "age": "200",
            "accepting": "on",
            "language": "es",
            "sort": "distance",
            "page": "3",
        },
    ],
)
def test_the_search_forms_python_widgets_write_what_the_widget_templates_write(data):
    """directory.forms' Quick* widgets and field groups stand in for the templates on the search page."""
    from django import forms
    from django.test.html import parse_html

    from directory.forms import DefaultShownBoundField, QuickBoundField, SearchForm

    def templated(form: SearchForm) -> SearchForm:
        for field in form.fields.values():
            standard = next(
                base
                for base in type(field.widget).__mro__
                if base.__module__ == "django.forms.widgets" and base is not forms.Widget
            )
            widget = standard(attrs=field.widget.attrs)
            if isinstance(widget, forms.Select):
                widget.choices = list(field.choices)
            widget.is_required = field.widget.is_required
            field.widget = widget
        return form

    quick, reference = SearchForm(data), templated(SearchForm(data))
    # Field groups through templates/forms/field.html, with the values the search form shows.
    reference.bound_field_class = DefaultShownBoundField
    quick.is_valid(), reference.is_valid()
    for name in quick.fields:
        assert (
            type(quick[name]) is QuickBoundField and type(reference[name]) is DefaultShownBoundField
        )
        assert type(quick[name].field.widget).__module__ == "directory.forms"
        assert type(reference[name].field.widget).__module__ == "django.forms.widgets"
        assert parse_html(quick[name].as_field_group()) == parse_html(
            reference[name].as_field_group()
        ), name
        assert parse_html(str(quick[name])) == parse_html(str(reference[name])), name


def test_a_python_written_field_group_marks_required_fields_and_checkbox_errors_as_the_template_does():
    """What the search form does not show: a required field, a checkbox with an error, markup in a label."""
    from django import forms
    from django.forms.boundfield import BoundField
    from django.test.html import parse_html
    from django.utils.safestring import mark_safe

    from directory.forms import QuickBoundField

    class Example(forms.Form):
        name = forms.CharField(label="Name <b>", help_text="As on the <em>ID</em>")
        agree = forms.BooleanField(label="I agree & consent")
        note = forms.CharField(
            label=mark_safe("Note <abbr>(optional)</abbr>"), required=False
        )  # not escaped

    for data in ({}, {"name": "x", "agree": "on"}):
        quick, reference = Example(data), Example(data)
        quick.bound_field_class, reference.bound_field_class = QuickBoundField, BoundField
        quick.is_valid(), reference.is_valid()
        for name in quick.fields:
            assert type(quick[name]) is QuickBoundField and type(reference[name]) is BoundField
            assert parse_html(quick[name].as_field_group()) == parse_html(
                reference[name].as_field_group()
            ), name
    assert "usa-hint--required" in quick["name"].as_field_group()
    assert "usa-checkbox__label" in quick["agree"].as_field_group()


def test_the_search_form_keeps_the_list_of_service_types_until_a_term_changes(
    db, django_assert_num_queries
):
    from directory.forms import SearchForm
    from directory.models import TaxonomyTerm

    SearchForm()  # reads the list once
    with django_assert_num_queries(0):
        choices = list(SearchForm().fields["term"].choices)
    food = TaxonomyTerm.objects.get(vocabulary="handoff", code="food")
    assert (str(food.pk), "Food") in choices

    food.name = "Food and groceries"
    food.save()

    assert (str(food.pk), "Food and groceries") in list(SearchForm().fields["term"].choices)
    pantry = TaxonomyTerm.objects.get(vocabulary="handoff", code="food.food-pantry")
    pantry.delete()
    assert str(pantry.pk) not in dict(SearchForm().fields["term"].choices)


def test_a_result_names_the_location_its_distance_is_to(client, referrer, food_bank):
    """Near a ZIP the card names the nearest of a service's locations (the distance shown is
    to it); without a place, the first listed; one location is simply its address."""
    from directory.models import ServiceAtLocation
    from tests.factories import LocationFactory

    two = directory_service(
        name="Two Door Pantry", organization=food_bank, terms=("food.food-pantry",)
    )
    far = LocationFactory(
        organization=food_bank,
        address_1="99 Far Rd",
        city="Newton",
        latitude=42.40,
        longitude=-71.20,
    )
    near = LocationFactory(
        organization=food_bank,
        address_1="5 Near St",
        city="Boston",
        latitude=42.34,
        longitude=-71.07,
    )
    ServiceAtLocation.objects.create(service=two, location=far)
    ServiceAtLocation.objects.create(service=two, location=near)
    one_door = directory_service(
        name="One Door Pantry",
        organization=food_bank,
        terms=("food.food-pantry",),
        at=(42.35, -71.06),
    )
    # A mailing address and a website are no places to go: not counted, never named.
    for kind, address in (("postal", "PO Box 12"), ("virtual", "")):
        ServiceAtLocation.objects.create(
            service=one_door,
            location=LocationFactory(
                organization=food_bank, location_type=kind, address_1=address, latitude=None
            ),
        )
    sign_in(client, referrer)

    def card(params, name):
        page = client.get(reverse("directory:search"), params).content.decode()
        start = page.index(name)
        return page[start : page.index("</li>\n          </ul>", start)]

    near_card = card({"zip": "02118", "radius": "10"}, "Two Door Pantry")
    assert "0.3 miles away" in near_card
    assert (
        'data-testid="place">Nearest of 2 locations: 5 Near St, Boston, MA 02118</li>' in near_card
    )
    anywhere = card({"q": "door"}, "Two Door Pantry")
    assert 'data-testid="place">One of 2 locations: 99 Far Rd, Newton, MA 02118</li>' in anywhere
    assert "miles away" not in anywhere
    one = card({"zip": "02118", "radius": "10"}, "One Door Pantry")
    assert 'data-testid="place">Address: 1 Main St, Boston, MA 02118</li>' in one
