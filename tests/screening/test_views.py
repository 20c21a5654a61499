"""Screening pages: start, the form (plain POST and htmx autosave), results, needs actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Role
from directory.models import TaxonomyTerm
from directory.taxonomy import load_taxonomy
from screening.models import Need, Screening
from tests.factories import (
    ClinicFactory,
    NeedFactory,
    PatientFactory,
    answer_all,
    directory_service,
    member,
)
from tests.screening.conftest import NEGATIVE_AHC

pytestmark = pytest.mark.django_db


@pytest.fixture
def outsider():
    return member(ClinicFactory(), Role.REFERRER)


def form_data(answers: dict, action: str = "finish") -> dict:
    data = {f"q-{code}": value for code, value in answers.items()}
    data["action"] = action
    return data


def urls(screening) -> list[str]:
    return [
        reverse("screening:screen", args=[screening.pk]),
        reverse("screening:results", args=[screening.pk]),
    ]


# --- the three: sign-in, other organization, it works ----------------------------------------


def test_screening_pages_need_sign_in(client, screening):
    for url in [reverse("screening:start"), *urls(screening)]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_another_organizations_screening_is_404(client, screening, outsider):
    client.force_login(outsider)
    for url in urls(screening):
        assert client.get(url).status_code == 404, url
    assert client.post(urls(screening)[0], form_data(NEGATIVE_AHC)).status_code == 404
    assert (
        client.post(
            urls(screening)[0],
            {"question": "93030-5", "q-93030-5": "LA33-6"},
            HTTP_HX_REQUEST="true",
        ).status_code
        == 404
    )
    assert (
        client.post(
            reverse("screening:language", args=[screening.pk]), {"language": "en"}
        ).status_code
        == 404
    )
    assert not screening.answers.exists()


def test_starting_a_screening_for_another_organizations_patient_is_404(client, patient, outsider):
    client.force_login(outsider)
    assert client.get(reverse("screening:start"), {"patient": patient.pk}).status_code == 404
    response = client.post(
        reverse("screening:begin", args=[patient.pk]), {"instrument": "ahc-hrsn-core"}
    )
    assert response.status_code == 404
    assert not Screening.objects.exists()


def test_cbo_staff_cannot_screen(client, staff, screening):
    client.force_login(staff)
    assert client.get(urls(screening)[0]).status_code == 403


def test_referrer_starts_a_screening_in_the_patients_language(client, referrer, patient):
    client.force_login(referrer)
    assert client.get(reverse("screening:start"), {"patient": patient.pk}).status_code == 200
    response = client.post(
        reverse("screening:begin", args=[patient.pk]), {"instrument": "ahc-hrsn-core"}
    )
    screening = Screening.objects.get()
    assert response["Location"] == reverse("screening:screen", args=[screening.pk])
    assert (screening.patient, screening.language, screening.started_by) == (
        patient,
        "es",
        referrer,
    )


def test_start_page_finds_patients_of_own_organization(client, referrer, patient, outsider):
    PatientFactory(organization=outsider.memberships.get().organization, family_name="Diaz")
    client.force_login(referrer)
    response = client.get(reverse("screening:start"), {"q": "Diaz"})
    assert list(response.context["patients"]) == [patient]


# --- the form --------------------------------------------------------------------------------


def test_form_shows_questions_in_the_screening_language_grouped_by_domain(
    client, referrer, screening
):
    screening.language = "es"
    screening.save()
    client.force_login(referrer)
    response = client.get(urls(screening)[0])
    html = response.content.decode()
    assert response.status_code == 200
    assert "¿Cuál es su situación de vivienda hoy?" in html
    assert html.count('data-testid="domain"') == 5
    assert html.count('data-testid="question"') == 10
    assert 'lang="es"' in html
    assert 'type="checkbox"' in html and 'type="radio"' in html


def test_language_switch_changes_the_question_language(client, referrer, screening):
    client.force_login(referrer)
    client.post(reverse("screening:language", args=[screening.pk]), {"language": "es"})
    screening.refresh_from_db()
    assert screening.language == "es"
    client.post(reverse("screening:language", args=[screening.pk]), {"language": "xx"})
    screening.refresh_from_db()
    assert screening.language == "es"


def test_htmx_autosave_saves_one_answer_and_returns_the_status_fragment(
    client, referrer, screening
):
    client.force_login(referrer)
    response = client.post(
        urls(screening)[0],
        {"question": "88122-7", "q-88122-7": "LA28397-0", "q-93030-5": "LA33-6"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Saved" in response.content.decode()
    assert "<form" not in response.content.decode()
    assert screening.responses() == {"88122-7": screening.responses()["88122-7"]}
    assert screening.responses()["88122-7"].codes == ("LA28397-0",)
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_htmx_autosave_reports_an_invalid_combination_and_keeps_the_old_answer(
    client, referrer, screening
):
    screening.record("96778-6", ["LA28580-1"])
    client.force_login(referrer)
    response = client.post(
        urls(screening)[0],
        {"question": "96778-6", "q-96778-6": ["LA28580-1", "LA9-3"]},
        HTTP_HX_REQUEST="true",
    )
    assert "cannot be chosen with other answers" in response.content.decode()
    assert screening.responses()["96778-6"].codes == ("LA28580-1",)


def test_an_interrupted_screening_resumes_with_its_answers(client, referrer, screening):
    client.force_login(referrer)
    client.post(
        urls(screening)[0],
        {"question": "71802-3", "q-71802-3": "LA31994-9"},
        HTTP_HX_REQUEST="true",
    )
    client.post(
        urls(screening)[0], {"question": "88123-5", "q-88123-5": "declined"}, HTTP_HX_REQUEST="true"
    )
    html = client.get(urls(screening)[0]).content.decode()
    assert 'value="LA31994-9" checked' in html
    assert 'id="q-88123-5-declined" name="q-88123-5" value="declined" checked' in html


def test_plain_post_saves_all_and_finishes_into_results(client, referrer, screening):
    client.force_login(referrer)
    answers = {**NEGATIVE_AHC, "88122-7": "LA6729-3", "71802-3": "LA31994-9", "93030-5": "declined"}
    response = client.post(urls(screening)[0], form_data(answers))
    assert response.status_code == 302 and response["Location"] == urls(screening)[1]
    screening.refresh_from_db()
    assert screening.is_completed
    assert set(Need.objects.values_list("category", flat=True)) == {
        "food-insecurity",
        "housing-instability",
    }


def test_plain_post_save_for_later_keeps_it_in_progress(client, referrer, screening):
    client.force_login(referrer)
    response = client.post(urls(screening)[0], form_data({"93030-5": "LA33-6"}, action="save"))
    assert response.status_code == 302
    screening.refresh_from_db()
    assert screening.status == "in-progress" and screening.answers.count() == 1


def test_finishing_with_unanswered_questions_marks_them(client, referrer, screening):
    client.force_login(referrer)
    response = client.post(urls(screening)[0], form_data({"93030-5": "LA33-6"}))
    assert response.status_code == 200
    assert "9 left" in response.context["form_error"]
    assert set(response.context["errors"]) == set(NEGATIVE_AHC) - {"93030-5"}
    screening.refresh_from_db()
    assert screening.status == "in-progress"


def test_a_completed_screening_form_redirects_to_results(client, referrer, screening):
    answer_all(screening, NEGATIVE_AHC)
    screening.complete(by=referrer)
    client.force_login(referrer)
    assert client.get(urls(screening)[0])["Location"] == urls(screening)[1]
    late = client.post(
        urls(screening)[0], {"question": "93030-5", "q-93030-5": "LA33-6"}, HTTP_HX_REQUEST="true"
    )
    assert late["HX-Redirect"] == urls(screening)[1]
    assert screening.responses()["93030-5"].codes == ("LA32-8",)


# --- results ---------------------------------------------------------------------------------


def complete(screening, referrer, **answers):
    answer_all(screening, {**NEGATIVE_AHC, **answers})
    screening.complete(by=referrer)
    return screening


def test_results_list_needs_with_matching_services_near_the_patient(client, referrer, screening):
    if not TaxonomyTerm.objects.exists():
        load_taxonomy()
    screening.patient.zip_code = "02118"
    screening.patient.save()
    pantry = directory_service(
        name="Weekly Food Pantry", terms=("food.food-pantry",), at=(42.3399, -71.0752)
    )
    directory_service(name="Far Pantry", terms=("food.food-pantry",), at=(34.05, -118.24))
    shelter = directory_service(
        name="Night Shelter", terms=("emergency.emergency-shelter",), at=(42.34, -71.07)
    )
    complete(screening, referrer, **{"88122-7": "LA28397-0"})
    client.force_login(referrer)
    response = client.get(urls(screening)[1])
    assert response.status_code == 200
    needs = response.context["needs"]
    assert [n.category for n in needs] == ["food-insecurity"]
    assert needs[0].services == [pantry]
    assert shelter not in needs[0].services
    html = response.content.decode()
    assert "Weekly Food Pantry" in html and "Refer" in html
    assert 'data-testid="safety-message"' not in html
    # The directory is a click away for more, with the need, the place and the person.
    more = f'href="/directory/?need=food-insecurity&amp;zip=02118&amp;patient={screening.patient.pk}" data-testid="more-services"'
    assert more in html


def test_results_put_a_safety_message_first_when_safety_is_positive(client, referrer, screening):
    complete(
        screening,
        referrer,
        **dict.fromkeys(("95618-5", "95617-7", "95616-9", "95615-1"), "LA6482-9"),
        **{"88122-7": "LA28397-0"},
    )
    client.force_login(referrer)
    response = client.get(urls(screening)[1])
    html = response.content.decode()
    assert [n.category for n in response.context["needs"]][0] == "intimate-partner-violence"
    assert html.index('data-testid="safety-message"') < html.index("Needs found")
    assert "1-800-799-7233" in html


def test_results_say_when_safety_could_not_be_scored(client, referrer, screening):
    complete(screening, referrer, **{"95615-1": "declined"})
    client.force_login(referrer)
    response = client.get(urls(screening)[1])
    assert ("Intimate partner violence", "not enough answers to tell") in response.context[
        "not_scored"
    ]
    assert not response.context["safety_positive"]


def test_results_show_changes_since_the_last_screening(client, referrer, patient, screening):
    complete(screening, referrer, **{"93030-5": "LA33-6"})
    again = Screening.objects.create(
        patient=patient, instrument_id="ahc-hrsn-core", instrument_version="2017"
    )
    complete(again, referrer, **{"88122-7": "LA28397-0"})
    client.force_login(referrer)
    changes = client.get(urls(again)[1]).context["changes"]
    assert changes["new"] == ["Food"] and changes["no_longer"] == ["Transportation"]


def test_results_of_an_unfinished_screening_redirect_to_the_form(client, referrer, screening):
    client.force_login(referrer)
    assert client.get(urls(screening)[1])["Location"] == urls(screening)[0]


# --- needs -----------------------------------------------------------------------------------


def test_referrer_resolves_a_need_with_a_note(client, referrer, patient):
    need = NeedFactory(patient=patient)
    client.force_login(referrer)
    url = reverse("screening:resolve_need", args=[need.pk])
    response = client.post(url, {"note": ""})
    assert response.status_code == 200 and "note" in response.context["form"].errors
    response = client.post(url, {"note": "Connected to a pantry"})
    assert response["Location"] == patient.get_absolute_url()
    need.refresh_from_db()
    assert need.status == "resolved" and need.resolution_note == "Connected to a pantry"


def test_referrer_adds_a_need_found_in_conversation(client, referrer, patient):
    client.force_login(referrer)
    url = reverse("screening:add_need", args=[patient.pk])
    response = client.post(url, {"category": "utility-insecurity", "note": "Shut-off notice"})
    assert response["Location"] == patient.get_absolute_url()
    assert Need.objects.get().note == "Shut-off notice"
    response = client.post(url, {"category": "utility-insecurity"})
    assert response.status_code == 200 and "category" in response.context["form"].errors


def test_adding_a_need_starts_with_no_need_chosen_and_needs_one(client, referrer, patient):
    client.force_login(referrer)
    page = client.get(patient.get_absolute_url())
    choices = page.context["add_need_form"].fields["category"].choices
    assert choices[0][0] == ""
    assert '<option value="" selected>' in page.content.decode()
    response = client.post(reverse("screening:add_need", args=[patient.pk]), {"category": ""})
    assert response.status_code == 200
    assert "Choose the need to add." in response.context["form"].errors["category"]
    assert not Need.objects.exists()


def test_needs_of_another_organization_are_404(client, patient, outsider):
    need = NeedFactory(patient=patient)
    client.force_login(outsider)
    assert (
        client.post(reverse("screening:resolve_need", args=[need.pk]), {"note": "x"}).status_code
        == 404
    )
    assert (
        client.post(
            reverse("screening:add_need", args=[patient.pk]), {"category": "stress"}
        ).status_code
        == 404
    )
    need.refresh_from_db()
    assert need.is_active and Need.objects.count() == 1


def test_need_pages_need_sign_in(client, patient):
    need = NeedFactory(patient=patient)
    for url in [
        reverse("screening:resolve_need", args=[need.pk]),
        reverse("screening:add_need", args=[patient.pk]),
    ]:
        assert "/accounts/login/" in client.get(url)["Location"]
