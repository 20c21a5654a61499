"""When the service says a referral met the need, the referral page asks the referrer whether
the person's need is resolved, and resolving it from there starts from the outcome."""

from __future__ import annotations

import pytest
from django.urls import reverse

from screening.models import Need
from tests.factories import NeedFactory, PatientFactory, referral


def _complete(referral_, staff, outcome: str) -> None:
    for action in ("receive", "accept", "start"):
        referral_.apply(action, by=staff, organization=referral_.receiving_organization)
    referral_.apply(
        "complete",
        by=staff,
        organization=referral_.receiving_organization,
        outcome=outcome,
        outcome_provided="Two weeks of groceries",
    )


@pytest.fixture
def food_need(patient, referrer):
    return NeedFactory(patient=patient, category="food-insecurity", added_by=referrer)


@pytest.fixture
def for_need(sent, food_need):
    sent.needs.set([food_need])
    return sent


def detail_html(client, user, referral_) -> str:
    client.force_login(user)
    return client.get(reverse("referrals:detail", args=[referral_.pk])).content.decode()


def test_a_referral_that_met_the_need_asks_the_referrer_to_resolve_it(
    client, for_need, food_need, staff, referrer
):
    resolve_url = reverse("screening:resolve_need", args=[food_need.pk])
    assert 'data-testid="resolve-needs"' not in detail_html(client, referrer, for_need)

    _complete(for_need, staff, "met")

    html = detail_html(client, referrer, for_need)
    assert "The service says the need was met." in html
    assert f'href="{resolve_url}?referral={for_need.pk}">Resolve “Food”</a>' in html
    # The receiving side is not asked: the need is the clinic's to judge.
    assert 'data-testid="resolve-needs"' not in detail_html(client, staff, for_need)


@pytest.mark.parametrize("outcome", ["partly-met", "not-met"])
def test_a_referral_that_did_not_meet_the_need_does_not_ask(
    client, for_need, staff, referrer, outcome
):
    _complete(for_need, staff, outcome)

    assert 'data-testid="resolve-needs"' not in detail_html(client, referrer, for_need)


def test_resolving_from_the_referral_starts_from_its_outcome_and_goes_back_to_it(
    client, for_need, food_need, staff, referrer
):
    _complete(for_need, staff, "met")
    client.force_login(referrer)
    url = reverse("screening:resolve_need", args=[food_need.pk]) + f"?referral={for_need.pk}"

    html = client.get(url).content.decode()
    assert "Referral to Eastside Pantry: Need met. Two weeks of groceries</textarea>" in html
    assert "Back to the referral to Eastside Pantry" in html

    response = client.post(url, {"note": "Enrolled in SNAP too"})

    assert response.status_code == 302
    assert response["Location"] == reverse("referrals:detail", args=[for_need.pk])
    food_need.refresh_from_db()
    assert food_need.status == Need.Status.RESOLVED
    assert food_need.resolution_note == "Enrolled in SNAP too"
    # Resolved: the referral page stops asking.
    assert 'data-testid="resolve-needs"' not in detail_html(client, referrer, for_need)


def test_a_referral_not_made_for_the_need_gives_no_note_and_goes_back_to_the_person(
    client, clinic, food_need, service, referrer, staff
):
    other_patient = PatientFactory(organization=clinic, registered_by=referrer)
    other = referral(other_patient, service, referrer)
    _complete(other, staff, "met")
    client.force_login(referrer)
    url = reverse("screening:resolve_need", args=[food_need.pk]) + f"?referral={other.pk}"

    html = client.get(url).content.decode()
    assert "Eastside Pantry" not in html

    response = client.post(url, {"note": "Enrolled in SNAP"})
    assert response["Location"] == food_need.patient.get_absolute_url()


def test_the_question_and_the_note_are_in_the_referrers_language(
    client, for_need, food_need, staff, referrer
):
    from tests.spanish import in_spanish, text_of

    _complete(for_need, staff, "met")
    in_spanish(client, referrer)

    text = text_of(detail_html(client, referrer, for_need))
    assert "El servicio dice que la necesidad fue atendida." in text
    assert "Resolver “Alimentos”" in text
    url = reverse("screening:resolve_need", args=[food_need.pk]) + f"?referral={for_need.pk}"
    html = client.get(url).content.decode()
    assert "Volver al referido a Eastside Pantry" in html
    assert "Referido a Eastside Pantry: Necesidad atendida. Two weeks of groceries" in html
