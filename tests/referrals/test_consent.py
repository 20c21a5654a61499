"""Consent gates sending, limits what the receiving side sees, and withdrawal takes it all back."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from referrals.models import Referral
from referrals.transitions import Status, TransitionError
from tests.factories import consent_for, directory_service, referral

pytestmark = pytest.mark.django_db


def test_no_referral_leaves_draft_without_consent(patient, service, referrer):
    draft = Referral.objects.create(
        patient=patient,
        need_category="food-insecurity",
        referring_organization=patient.organization,
        referred_by=referrer,
        service=service,
        receiving_organization=service.organization,
    )
    with pytest.raises(TransitionError, match="consent"):
        draft.apply("send", by=referrer, organization=patient.organization)
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    assert not draft.events.exists()


def test_consent_for_another_organization_does_not_cover(patient, service, referrer, other_org):
    wrong = consent_for(patient, other_org, referrer)
    draft = referral(patient, service, referrer, send=False, consent=wrong)
    with pytest.raises(TransitionError):
        draft.apply("send", by=referrer, organization=patient.organization)
    assert Referral.objects.get(pk=draft.pk).status == Status.DRAFT


def test_expired_consent_does_not_cover(patient, service, referrer):
    old = consent_for(
        patient,
        service.organization,
        referrer,
        expires_on=timezone.localdate() - datetime.timedelta(days=1),
    )
    draft = referral(patient, service, referrer, send=False, consent=old)
    with pytest.raises(TransitionError):
        draft.apply("send", by=referrer, organization=patient.organization)


def test_receiving_side_sees_only_what_consent_allows(client, patient, service, referrer, staff):
    narrow = consent_for(
        patient, service.organization, referrer, share_contact=False, share_needs=True
    )
    made = referral(patient, service, referrer, consent=narrow)
    assert "contact" not in made.shared
    client.force_login(staff)
    page = client.get(reverse("referrals:detail", args=[made.pk])).content.decode()
    assert "617-555-0100" not in page
    assert "maria@example.org" not in page
    assert "Food" in page  # the need was allowed


def test_screening_answers_are_shared_only_when_allowed(patient, service, referrer):
    from screening.instrument import get_instrument
    from tests.factories import ScreeningFactory

    screening = ScreeningFactory(patient=patient, started_by=referrer)
    instrument = get_instrument("ahc-hrsn-core")
    question = instrument.question("88122-7")  # food, as the referral's need
    screening.record(question.code, [question.answers[0].code])
    for other in instrument.questions:
        if other != question:
            screening.record(other.code, ["declined"])
    screening.complete(by=referrer)
    without = referral(patient, service, referrer)
    assert "screening" not in without.shared
    full = consent_for(patient, service.organization, referrer, share_screening=True)
    with_answers = referral(patient, service, referrer, consent=full)
    first = with_answers.shared["screening"]["rows"][0]
    assert (first["question"], first["codes"]) == (question.code, [question.answers[0].code])


def test_do_not_contact_withholds_contact_details_even_with_consent(patient, service, referrer):
    made = referral(patient, service, referrer, do_not_contact=True)
    assert "contact" not in made.shared


def test_withdrawal_hides_shared_data_at_once_and_cancels_open_referrals(
    client, patient, service, referrer, staff
):
    first = referral(patient, service, referrer)
    second = referral(patient, service, referrer, consent=first.consent)
    second.apply("accept", by=staff, organization=service.organization)
    elsewhere = directory_service(name="Other food bank service", terms=("food.food-pantry",))
    unrelated = referral(patient, elsewhere, referrer)
    client.force_login(referrer)
    response = client.post(reverse("referrals:withdraw_consent", args=[first.consent.pk]))
    assert response.status_code == 302
    for made in (first, second):
        made.refresh_from_db()
        assert made.status == Status.CANCELLED
        assert made.status_reason == "consent-withdrawn"
    unrelated.refresh_from_db()
    assert unrelated.status == Status.REQUESTED
    # the receiving side still has the referral on record but not the person's details
    client.force_login(staff)
    page = client.get(reverse("referrals:detail", args=[first.pk]))
    assert page.context["shared"] is None
    html = page.content.decode()
    assert "617-555-0100" not in html
    assert 'data-testid="consent-withdrawn"' in html


def test_withdrawing_twice_changes_nothing_more(client, sent, referrer):
    client.force_login(referrer)
    client.post(reverse("referrals:withdraw_consent", args=[sent.consent.pk]))
    sent.consent.refresh_from_db()
    first_time = sent.consent.withdrawn_at
    client.post(reverse("referrals:withdraw_consent", args=[sent.consent.pk]))
    sent.consent.refresh_from_db()
    assert sent.consent.withdrawn_at == first_time
    assert sent.events.filter(to_status="cancelled").count() == 1


@pytest.mark.parametrize("language", ["en", "es"])
def test_date_pickers_get_iso_values_in_every_interface_language(language):
    import datetime

    from django.utils import translation

    from referrals.forms import OutcomeForm, StepForm
    from referrals.views import _consent_form

    day = datetime.date(2027, 3, 9)
    with translation.override(language):
        consent = str(_consent_form(initial={"expires_on": day})["expires_on"])
        outcome = str(OutcomeForm(initial={"outcome_date": day})["outcome_date"])
        step = str(
            StepForm(initial={"intake_at": datetime.datetime(2027, 3, 9, 14, 30)})["intake_at"]
        )

    assert 'value="2027-03-09"' in consent
    assert 'value="2027-03-09"' in outcome
    assert 'value="2027-03-09T14:30"' in step
