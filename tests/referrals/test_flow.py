"""The referral loop through the pages: start, consent, send, open, act, message, re-route."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import AuditEvent
from patients.models import Consent
from referrals.models import Notification, Referral, ReferralEvent
from referrals.transitions import Status, TransitionError
from tests.factories import NeedFactory, consent_for, directory_service, referral

pytestmark = pytest.mark.django_db


def _consent_post(**extra) -> dict:
    data = {
        "method": "verbal",
        "share_contact": "on",
        "share_needs": "on",
        "expires_on": (timezone.localdate() + datetime.timedelta(days=365)).isoformat(),
        "confirmed": "on",
    }
    data.update(extra)
    return data


def _handoff_post(patient, service, **extra) -> dict:
    data = {
        "service": service.pk,
        "patient": patient.pk,
        "need_category": "food-insecurity",
        "priority": "routine",
        "contact_method": "phone",
        "contact_times": "mornings",
        "language": "es",
        "note": "Family of four, prefers Saturday pick-up.",
    }
    data.update(extra)
    return data


def test_new_referral_is_prefilled_from_the_patient_and_need(client, referrer, patient, service):
    patient.preferred_language = "es"
    patient.contact_method = "text"
    patient.save()
    NeedFactory(patient=patient, category="food-insecurity")
    client.force_login(referrer)
    response = client.get(
        reverse("referrals:new"),
        {"service": service.pk, "patient": patient.pk, "need": "food-insecurity"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["need_category"] == "food-insecurity"
    assert form.initial["language"] == "es"
    assert form.initial["contact_method"] == "text"
    # the patient's active needs come first in the choices
    assert form.fields["need_category"].choices[1][0] == "food-insecurity"


def test_send_with_consent_makes_a_requested_referral_with_a_due_date(
    client, referrer, patient, service, staff
):
    NeedFactory(patient=patient, category="food-insecurity")
    client.force_login(referrer)
    response = client.post(
        reverse("referrals:new"),
        {**_handoff_post(patient, service), **_consent_post(), "send": "1"},
    )
    made = Referral.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("referrals:detail", args=[made.pk])
    assert made.status == Status.REQUESTED
    assert made.consent.organization == service.organization
    assert made.consent.recorded_by == referrer
    assert made.due_at is not None and made.due_at > made.sent_at
    assert made.shared["contact"]["phone"] == "617-555-0100"
    assert made.shared["needs"] == ["Food insecurity"] or made.shared["needs"]
    assert made.needs.count() == 1
    # the receiving side is told, in the portal and by email (console backend in tests: locmem)
    assert Notification.objects.filter(user=staff, kind="new").count() == 1
    assert AuditEvent.objects.filter(action="consent", object_id=str(made.consent.pk)).exists()


def test_send_without_consent_is_refused_and_saves_nothing(client, referrer, patient, service):
    client.force_login(referrer)
    response = client.post(
        reverse("referrals:new"),
        {**_handoff_post(patient, service), "method": "verbal", "send": "1"},
    )
    assert response.status_code == 200
    assert response.context["consent_form"].errors
    assert not Referral.objects.exists()
    assert not Consent.objects.exists()


def test_electronic_consent_needs_the_typed_name(client, referrer, patient, service):
    client.force_login(referrer)
    response = client.post(
        reverse("referrals:new"),
        {**_handoff_post(patient, service), **_consent_post(method="electronic"), "send": "1"},
    )
    assert "signature" in response.context["consent_form"].errors
    assert not Referral.objects.exists()


def test_consent_ending_more_than_a_year_ahead_is_refused_and_saves_nothing(
    client, referrer, patient, service
):
    client.force_login(referrer)
    response = client.post(
        reverse("referrals:new"),
        {**_handoff_post(patient, service), **_consent_post(expires_on="2099-12-31"), "send": "1"},
    )
    assert "at most one year" in " ".join(response.context["consent_form"].errors["expires_on"])
    assert not Referral.objects.exists()
    assert not Consent.objects.exists()


NOT_ACCEPTING_WARNING = (
    "This service says it is not accepting new clients right now (updated 3\xa0hours ago). "
    "Call them first, or choose another service."
)
WAITLIST_WARNING = (
    "This service says it has a waitlist (updated 3\xa0hours ago). "
    "Call them first, or choose another service."
)


def _set_capacity(service, capacity, by, hours_ago=3):
    from directory.models import Service

    service.set_capacity(capacity, by=by)
    Service.objects.filter(pk=service.pk).update(
        capacity_updated_at=timezone.now() - datetime.timedelta(hours=hours_ago)
    )


@pytest.mark.parametrize(
    ("capacity", "warning", "tick"),
    [
        ("not_accepting", NOT_ACCEPTING_WARNING, True),
        ("waitlist", WAITLIST_WARNING, False),
        ("accepting", None, False),
    ],
)
def test_the_referral_form_warns_when_the_service_says_it_is_full_and_asks_for_a_tick_only_when_not_accepting(
    client, referrer, patient, service, capacity, warning, tick
):
    _set_capacity(service, capacity, by=referrer)
    client.force_login(referrer)

    page = client.get(
        reverse("referrals:new"), {"service": service.pk, "patient": patient.pk}
    ).content.decode()

    if warning:
        assert warning in page
        assert page.index(warning) < page.index('name="need_category"')  # read before the form
    else:
        assert 'data-testid="capacity-warning"' not in page
    assert ('name="checked_with_service"' in page) is tick


def test_a_warning_without_a_date_of_the_change_leaves_the_date_out(
    client, referrer, patient, service
):
    from directory.models import Service

    Service.objects.filter(pk=service.pk).update(capacity="waitlist", capacity_updated_at=None)
    client.force_login(referrer)

    page = client.get(
        reverse("referrals:new"), {"service": service.pk, "patient": patient.pk}
    ).content.decode()

    assert (
        "This service says it has a waitlist. Call them first, or choose another service." in page
    )


def test_sending_to_a_service_not_accepting_clients_needs_the_tick_and_saves_nothing_without_it(
    client, referrer, patient, service
):
    _set_capacity(service, "not_accepting", by=referrer)
    client.force_login(referrer)
    data = {**_handoff_post(patient, service), **_consent_post(), "send": "1"}

    response = client.post(reverse("referrals:new"), data)

    assert response.status_code == 200
    assert response.context["form"].errors["checked_with_service"] == [
        "Call the service first and tick this box, or choose another service."
    ]
    assert not Referral.objects.exists()
    assert not Consent.objects.exists()

    response = client.post(reverse("referrals:new"), {**data, "checked_with_service": "on"})

    assert response.status_code == 302
    referral = Referral.objects.get()
    assert referral.status == Status.REQUESTED
    # The tick is kept with the send, and both sides read it in the timeline.
    sent = referral.events.get(to_status=Status.REQUESTED)
    assert sent.data == {"checked_with_service": True}
    timeline = client.get(response.url).content.decode()
    assert (
        "The service had said it was not taking new clients. The sender checked with the service"
        " before sending." in timeline
    )


@pytest.mark.parametrize("capacity", ["waitlist", "not_accepting"])
def test_a_draft_to_a_full_service_saves_without_the_tick_and_a_waitlist_sends_without_it(
    client, referrer, patient, service, capacity
):
    _set_capacity(service, capacity, by=referrer)
    client.force_login(referrer)

    client.post(reverse("referrals:new"), {**_handoff_post(patient, service), "save": "1"})
    assert Referral.objects.get().status == Status.DRAFT

    if capacity == "waitlist":
        draft = Referral.objects.get()
        response = client.post(
            reverse("referrals:new"),
            {**_handoff_post(patient, service), **_consent_post(), "draft": draft.pk, "send": "1"},
        )
        assert response.status_code == 302
        draft.refresh_from_db()
        assert draft.status == Status.REQUESTED
        assert draft.events.get(to_status=Status.REQUESTED).data == {}  # nothing to check
        assert 'data-testid="checked-with-service"' not in client.get(response.url).content.decode()


def test_a_draft_can_be_saved_without_consent_but_not_sent(client, referrer, patient, service):
    client.force_login(referrer)
    client.post(reverse("referrals:new"), {**_handoff_post(patient, service), "save": "1"})
    draft = Referral.objects.get()
    assert draft.status == Status.DRAFT
    assert draft.consent is None
    response = client.post(reverse("referrals:act", args=[draft.pk, "send"]), follow=True)
    assert "consent" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    # finishing the draft with consent sends it
    client.post(
        reverse("referrals:new"),
        {**_handoff_post(patient, service), **_consent_post(), "draft": draft.pk, "send": "1"},
    )
    draft.refresh_from_db()
    assert draft.status == Status.REQUESTED
    assert Referral.objects.count() == 1


def test_a_draft_sent_back_for_a_handoff_error_shows_no_consent_errors(
    client, referrer, patient, service
):
    client.force_login(referrer)
    response = client.post(
        reverse("referrals:new"),
        {**_handoff_post(patient, service, need_category=""), "method": "verbal", "save": "1"},
    )
    assert response.status_code == 200
    assert "need_category" in response.context["form"].errors
    assert not response.context["consent_form"].errors
    html = response.content.decode()
    assert 'id="id_confirmed_error"' not in html
    assert 'id="id_expires_on_error"' not in html
    assert response.context["consent_form"]["method"].value() == "verbal"  # kept as typed
    assert not Referral.objects.exists()


def test_with_a_consent_on_file_a_new_one_is_checked_only_when_chosen(
    client, referrer, patient, service
):
    consent_for(patient, service.organization, referrer)
    client.force_login(referrer)
    url = reverse("referrals:new")
    page = client.get(url, {"service": service.pk, "patient": patient.pk})
    assert page.context["use_on_file"]
    response = client.post(
        url, {**_handoff_post(patient, service, need_category=""), "use_consent": "", "send": "1"}
    )
    html = response.content.decode()
    assert response.context["consent_form"].errors
    assert 'id="new-consent" type="radio" name="use_consent" value="" checked>' in html


def test_consent_on_file_is_offered_and_used(client, referrer, patient, service):
    on_file = consent_for(patient, service.organization, referrer)
    client.force_login(referrer)
    page = client.get(reverse("referrals:new"), {"service": service.pk, "patient": patient.pk})
    assert page.context["on_file"] == on_file
    client.post(
        reverse("referrals:new"),
        {**_handoff_post(patient, service), "use_consent": on_file.pk, "send": "1"},
    )
    assert Referral.objects.get().consent == on_file
    assert Consent.objects.count() == 1


def test_receiving_side_never_sees_drafts(client, referrer, patient, service, staff):
    draft = referral(patient, service, referrer, send=False)
    client.force_login(staff)
    assert client.get(reverse("referrals:detail", args=[draft.pk])).status_code == 404
    assert draft not in client.get(reverse("referrals:inbox")).context["rows"]


def test_opening_a_new_referral_marks_it_received_and_audits_the_view(client, sent, staff):
    client.force_login(staff)
    response = client.get(reverse("referrals:detail", args=[sent.pk]))
    assert response.status_code == 200
    sent.refresh_from_db()
    assert sent.status == Status.RECEIVED
    assert sent.received_at is not None
    assert AuditEvent.objects.filter(action="view-referral", object_id=str(sent.pk)).exists()
    assert sent.events.filter(kind=ReferralEvent.Kind.VIEWED).count() == 1
    # the referrer is notified that it was seen
    assert Notification.objects.filter(user=sent.referred_by, kind="status").exists()


def _days_from_today(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


def test_receiving_side_works_the_referral_to_completion(client, sent, staff, referrer):
    client.force_login(staff)
    client.get(reverse("referrals:detail", args=[sent.pk]))
    client.post(reverse("referrals:act", args=[sent.pk, "accept"]))
    client.post(
        reverse("referrals:step", args=[sent.pk]),
        {"step": "intake-booked", "intake_at": f"{_days_from_today(7)}T10:30"},
    )
    client.post(reverse("referrals:act", args=[sent.pk, "start"]))
    client.post(
        reverse("referrals:act", args=[sent.pk, "complete"]),
        {
            "outcome": "met",
            "outcome_provided": "Two weeks of groceries",
            "outcome_date": _days_from_today(0),
        },
    )
    sent.refresh_from_db()
    assert sent.status == Status.COMPLETED
    assert sent.business_status == "intake-booked"
    assert sent.intake_at is not None
    assert sent.outcome == "met"
    assert sent.closed_at is not None
    statuses = list(
        sent.events.filter(kind="status").values_list("to_status", flat=True).order_by("pk")
    )
    assert statuses == ["requested", "received", "accepted", "in-progress", "completed"]
    # every change is on the patient's organization's audit log
    assert (
        AuditEvent.objects.filter(
            organization=sent.patient.organization, action="change", object_id=str(sent.pk)
        ).count()
        == 6
    )  # 5 status changes (send included) + 1 step
    # the referrer sees the outcome
    client.force_login(referrer)
    page = client.get(reverse("referrals:detail", args=[sent.pk]))
    assert "Two weeks of groceries" in page.content.decode()


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("complete", {"outcome": "met", "outcome_provided": "Groceries"}),
        ("fail", {"reason": "unable-to-contact"}),
    ],
)
def test_the_step_of_a_closed_referral_is_refused_as_closed(client, sent, staff, action, data):
    organization = sent.receiving_organization
    sent.apply("accept", by=staff, organization=organization)
    sent.apply("start", by=staff, organization=organization)
    sent.apply(action, by=staff, organization=organization, **data)
    client.force_login(staff)
    response = client.post(
        reverse("referrals:step", args=[sent.pk]), {"step": "receiving-services"}, follow=True
    )
    html = response.content.decode()
    assert "This referral is closed" in html
    assert "Accept the referral first." not in html
    sent.refresh_from_db()
    assert sent.business_status == ""


@pytest.mark.parametrize(
    ("intake_at", "error"),
    [
        ("2020-01-01T10:00", "This date is in the past."),
        (f"{_days_from_today(-2)}T10:00", "This date is in the past."),
        (f"{_days_from_today(400)}T10:00", "This date is more than a year ahead."),
        ("", "Give the date and time of the intake appointment."),
    ],
    ids=["years-ago", "two-days-ago", "over-a-year-ahead", "missing"],
)
def test_an_intake_long_past_or_far_ahead_is_refused_at_the_field(
    client, sent, staff, intake_at, error
):
    sent.apply("accept", by=staff, organization=sent.receiving_organization)
    client.force_login(staff)
    response = client.post(
        reverse("referrals:step", args=[sent.pk]),
        {"step": "intake-booked", "intake_at": intake_at},
    )
    assert response.status_code == 200
    assert f'id="id_intake_at_error" role="alert">{error}' in response.content.decode()
    sent.refresh_from_db()
    assert (sent.business_status, sent.intake_at) == ("", None)
    assert not sent.events.filter(kind=ReferralEvent.Kind.STEP).exists()


def test_the_timeline_dates_each_intake_booked(client, sent, staff):
    sent.apply("accept", by=staff, organization=sent.receiving_organization)
    client.force_login(staff)
    url = reverse("referrals:step", args=[sent.pk])
    first, second = _days_from_today(3), _days_from_today(10)
    client.post(url, {"step": "intake-booked", "intake_at": f"{first}T09:00"})
    client.post(url, {"step": "intake-booked", "intake_at": f"{second}T14:30"})
    page = client.get(reverse("referrals:detail", args=[sent.pk]) + "?part=timeline")
    html = page.content.decode()
    for day, time in ((first, "9:00 AM"), (second, "2:30 PM")):
        when = timezone.make_aware(datetime.datetime.fromisoformat(day))
        assert f'Intake appointment booked: <time datetime="{day}T' in html
        # With its weekday, as an appointment is told: "Tuesday, Dec. 8, 2026, 9:00 AM"
        assert f"{when:%A}, {date_format(when, 'N j, Y')}, {time}" in html


def test_a_date_of_service_in_the_future_is_refused_at_the_field(client, sent, staff):
    organization = sent.receiving_organization
    sent.apply("accept", by=staff, organization=organization)
    sent.apply("start", by=staff, organization=organization)
    client.force_login(staff)
    response = client.post(
        reverse("referrals:act", args=[sent.pk, "complete"]),
        {"outcome": "met", "outcome_provided": "Groceries", "outcome_date": "2030-01-01"},
    )
    html = response.content.decode()
    assert (
        'id="id_outcome_date_error" role="alert">The date of service cannot be in the future.'
        in html
    )
    assert '<details class="margin-bottom-1" id="panel-complete" hx-preserve open>' in html
    sent.refresh_from_db()
    assert sent.status == Status.IN_PROGRESS
    assert sent.outcome == ""


def test_complete_without_outcome_is_refused_and_changes_nothing(client, sent, staff):
    client.force_login(staff)
    client.post(reverse("referrals:act", args=[sent.pk, "accept"]))
    client.post(reverse("referrals:act", args=[sent.pk, "start"]))
    response = client.post(
        reverse("referrals:act", args=[sent.pk, "complete"]), {"outcome": "met"}, follow=True
    )
    assert "What was provided" in response.content.decode()
    sent.refresh_from_db()
    assert sent.status == Status.IN_PROGRESS


def test_decline_needs_a_reason_then_referrer_reroutes_in_one_step(
    client, sent, staff, referrer, patient, food_bank
):
    other = directory_service(
        name="Westside Pantry", terms=("food.food-pantry",), at=(42.34, -71.08)
    )
    full = directory_service(name="Full Pantry", terms=("food.food-pantry",), at=(42.34, -71.08))
    _set_capacity(full, "not_accepting", by=staff)
    client.force_login(staff)
    client.post(reverse("referrals:act", args=[sent.pk, "reject"]), {})
    sent.refresh_from_db()
    assert sent.status == Status.REQUESTED  # no reason: refused
    client.post(reverse("referrals:act", args=[sent.pk, "reject"]), {"reason": "no-capacity"})
    sent.refresh_from_db()
    assert sent.status == Status.REJECTED
    assert sent.status_reason == "no-capacity"

    client.force_login(referrer)
    page = client.get(reverse("referrals:detail", args=[sent.pk]))
    assert page.context["reroute_url"]
    choices = client.get(reverse("referrals:reroute", args=[sent.pk])).context["suggestions"]
    assert other in choices and sent.service not in choices
    assert full not in choices  # sent on at once: never to a service not taking new clients
    refused = client.post(
        reverse("referrals:reroute", args=[sent.pk]), {"service": full.pk, **_consent_post()}
    )
    assert refused.status_code == 200
    assert "Full Pantry is not taking new clients now. Choose another service." in (
        refused.content.decode()
    )
    assert not Referral.objects.filter(rerouted_from=sent).exists()
    response = client.post(
        reverse("referrals:reroute", args=[sent.pk]), {"service": other.pk, **_consent_post()}
    )
    rerouted = Referral.objects.get(rerouted_from=sent)
    assert response.url == reverse("referrals:detail", args=[rerouted.pk])
    assert rerouted.status == Status.REQUESTED
    assert rerouted.service == other
    assert rerouted.consent.organization == other.organization
    assert rerouted.note == sent.note
    # only once
    again = client.post(
        reverse("referrals:reroute", args=[sent.pk]), {"service": other.pk, **_consent_post()}
    )
    assert again.status_code == 302
    assert Referral.objects.filter(rerouted_from=sent).count() == 1


def _panel_choices(response, name) -> list[str]:
    panel = next(p for p in response.context["action_panels"] if p["transition"].name == name)
    return [value for value, _label in panel["form"].fields["reason"].choices]


def test_declining_starts_on_no_reason_and_refuses_none_at_the_field(client, sent, staff):
    client.force_login(staff)
    page = client.get(reverse("referrals:detail", args=[sent.pk]))
    assert _panel_choices(page, "reject")[0] == ""
    assert '<option value="" selected>Choose a reason</option>' in page.content.decode()
    response = client.post(reverse("referrals:act", args=[sent.pk, "reject"]), {"reason": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="reason-reject_error" role="alert">Choose a reason.' in html
    assert '<details class="margin-bottom-1" id="panel-reject" hx-preserve open>' in html
    sent.refresh_from_db()
    assert sent.status == Status.RECEIVED


def test_other_as_a_reason_needs_the_detail(client, sent, staff):
    client.force_login(staff)
    url = reverse("referrals:act", args=[sent.pk, "reject"])
    response = client.post(url, {"reason": "other", "reason_text": "  "})
    assert 'id="reason_text-reject_error" role="alert">Say what the reason is.' in (
        response.content.decode()
    )
    sent.refresh_from_db()
    assert sent.status == Status.REQUESTED
    client.post(url, {"reason": "other", "reason_text": "We only serve veterans"})
    sent.refresh_from_db()
    assert sent.status == Status.REJECTED
    assert sent.status_reason_text == "We only serve veterans"


def test_a_hold_offers_and_takes_only_reasons_that_fit_a_hold(client, sent, staff):
    sent.apply("accept", by=staff, organization=sent.receiving_organization)
    client.force_login(staff)
    page = client.get(reverse("referrals:detail", args=[sent.pk]))
    assert _panel_choices(page, "hold") == [
        "",
        "waiting",
        "unable-to-contact",
        "no-capacity",
        "other",
    ]
    url = reverse("referrals:act", args=[sent.pk, "hold"])
    response = client.post(url, {"reason": "sent-in-error"})
    assert "Choose one of the reasons listed." in response.content.decode()
    with pytest.raises(TransitionError, match="reasons listed"):
        sent.apply(
            "hold", by=staff, organization=sent.receiving_organization, reason="consent-withdrawn"
        )
    sent.refresh_from_db()
    assert sent.status == Status.ACCEPTED
    client.post(url, {"reason": "waiting", "reason_text": "Back after her surgery"})
    sent.refresh_from_db()
    assert (sent.status, sent.status_reason) == (Status.ON_HOLD, "waiting")


def test_an_overdue_referral_can_be_rerouted_and_the_old_one_is_cancelled(client, sent, referrer):
    other = directory_service(
        name="Another Pantry", terms=("food.food-pantry",), at=(42.34, -71.08)
    )
    Referral.objects.filter(pk=sent.pk).update(due_at=timezone.now() - datetime.timedelta(hours=1))
    client.force_login(referrer)
    client.post(
        reverse("referrals:reroute", args=[sent.pk]), {"service": other.pk, **_consent_post()}
    )
    sent.refresh_from_db()
    assert sent.status == Status.CANCELLED
    assert sent.status_reason == "no-response"
    assert Referral.objects.get(rerouted_from=sent).status == Status.REQUESTED


def test_referrer_cancels_with_a_reason(client, sent, referrer):
    client.force_login(referrer)
    client.post(
        reverse("referrals:act", args=[sent.pk, "cancel"]),
        {"reason": "need-met-elsewhere", "reason_text": "Found help at church"},
    )
    sent.refresh_from_db()
    assert sent.status == Status.CANCELLED
    assert sent.status_reason_text == "Found help at church"


def test_messages_both_ways_with_unread_counts(client, sent, staff, referrer):
    client.force_login(referrer)
    client.post(reverse("referrals:message", args=[sent.pk]), {"body": "She can come Saturday."})
    client.force_login(staff)
    inbox = client.get(reverse("referrals:inbox"))
    row = next(r for r in inbox.context["rows"] if r.pk == sent.pk)
    assert row.unread == 1
    client.get(reverse("referrals:detail", args=[sent.pk]))  # reading clears it
    inbox = client.get(reverse("referrals:inbox"))
    assert next(r for r in inbox.context["rows"] if r.pk == sent.pk).unread == 0
    client.post(reverse("referrals:message", args=[sent.pk]), {"body": "Saturday works."})
    assert Notification.objects.filter(user=referrer, kind="message").count() == 1
    assert list(sent.messages.values_list("body", flat=True)) == [
        "She can come Saturday.",
        "Saturday works.",
    ]


def test_an_empty_message_is_refused(client, sent, referrer):
    client.force_login(referrer)
    client.post(reverse("referrals:message", args=[sent.pk]), {"body": "   "})
    assert not sent.messages.exists()


def test_a_blank_message_sent_with_htmx_is_answered_at_the_message_box(client, sent, referrer):
    client.force_login(referrer)
    url = reverse("referrals:message", args=[sent.pk])
    response = client.post(url, {"body": "   "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="messages"')  # the box's own section
    assert 'id="id_body_error" role="alert">Write a message first.' in html
    assert 'aria-describedby="id_body_error"' in html
    assert not sent.messages.exists()
    # nothing queued to pop up later on an unrelated page
    assert list(get_messages(response.wsgi_request)) == []
    later = client.get(reverse("referrals:detail", args=[sent.pk]))
    assert "Write a message first." not in later.content.decode()


def test_a_blank_message_without_htmx_shows_the_page_with_the_error_at_the_box(
    client, sent, referrer
):
    client.force_login(referrer)
    response = client.post(reverse("referrals:message", args=[sent.pk]), {"body": " "})
    assert response.status_code == 200
    assert 'id="id_body_error" role="alert">Write a message first.' in response.content.decode()
    assert list(get_messages(response.wsgi_request)) == []
    assert not sent.messages.exists()


def test_inbox_tabs_count_new_in_progress_overdue_and_closed(
    client, patient, service, referrer, staff
):
    fresh = referral(patient, service, referrer)
    late = referral(patient, service, referrer)
    Referral.objects.filter(pk=late.pk).update(due_at=timezone.now() - datetime.timedelta(days=1))
    working = referral(patient, service, referrer)
    working.apply("accept", by=staff, organization=service.organization)
    done = referral(patient, service, referrer)
    done.apply("reject", by=staff, organization=service.organization, reason="not-eligible")
    client.force_login(staff)
    response = client.get(reverse("referrals:inbox"))
    counts = {name: count for name, _label, count in response.context["tabs"]}
    assert counts == {"new": 2, "active": 1, "overdue": 1, "closed": 1}
    assert {r.pk for r in response.context["rows"]} == {fresh.pk, late.pk}
    overdue = client.get(reverse("referrals:inbox"), {"tab": "overdue"})
    assert [r.pk for r in overdue.context["rows"]] == [late.pk]


def test_response_due_shows_only_while_a_response_is_awaited(client, sent, staff, referrer):
    detail = reverse("referrals:detail", args=[sent.pk])
    client.force_login(referrer)
    assert "Response due" in client.get(detail).content.decode()
    client.force_login(staff)
    assert "Response due" in client.get(reverse("referrals:inbox")).content.decode()
    sent.apply("accept", by=staff, organization=sent.receiving_organization)
    for tab in ("active", "closed"):
        inbox = client.get(reverse("referrals:inbox"), {"tab": tab}).content.decode()
        assert "Response due" not in inbox
    client.force_login(referrer)
    assert "Response due" not in client.get(detail).content.decode()
    sent.apply("cancel", by=referrer, organization=sent.referring_organization, reason="other")
    client.force_login(staff)
    closed = client.get(reverse("referrals:inbox"), {"tab": "closed"})
    assert [r.pk for r in closed.context["rows"]] == [sent.pk]
    assert "Response due" not in closed.content.decode()


def test_the_referral_list_says_when_each_was_updated_ago(client, sent, referrer):
    Referral.objects.filter(pk=sent.pk).update(
        updated_at=timezone.now() - datetime.timedelta(minutes=4)
    )
    referral(sent.patient, sent.service, referrer)  # just now
    client.force_login(referrer)
    html = client.get(reverse("referrals:list")).content.decode()
    assert "4\xa0minutes ago</time>" in html
    assert ">just now</time>" in html


def test_referral_list_filters(client, patient, service, referrer, staff):
    a = referral(patient, service, referrer)
    b = referral(patient, service, referrer, need_category="housing-instability")
    b.apply("accept", by=staff, organization=service.organization)
    client.force_login(referrer)
    everything = client.get(reverse("referrals:list")).context["referrals"]
    assert {r.pk for r in everything} == {a.pk, b.pk}
    accepted = client.get(reverse("referrals:list"), {"status": "accepted"}).context["referrals"]
    assert [r.pk for r in accepted] == [b.pk]
    housing = client.get(reverse("referrals:list"), {"need": "housing-instability"})
    assert [r.pk for r in housing.context["referrals"]] == [b.pk]


def test_email_settings_turn_off_email_but_not_in_app_notifications(
    client, staff, patient, service, referrer, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    client.post(
        reverse("referrals:email_settings"),
        {"status_changes": "on", "messages": "on", "overdue": "on"},  # new referrals off
    )
    from referrals.tasks import email_notifications

    with django_capture_on_commit_callbacks(execute=True):
        made = referral(patient, service, referrer)
    notification = Notification.objects.get(user=staff, referral=made)
    assert email_notifications.call([notification.pk]) == 0
    assert mail.outbox == []


def test_notifications_are_emailed_once(patient, service, referrer, staff):
    from referrals.tasks import email_notifications

    made = referral(patient, service, referrer)
    ids = list(Notification.objects.filter(referral=made).values_list("pk", flat=True))
    assert email_notifications.call(ids) == 1
    assert email_notifications.call(ids) == 0
    assert mail.outbox[0].to == [staff.email]
    assert "New referral" in mail.outbox[0].subject


def test_notification_page_and_mark_all_read(client, staff, sent):
    client.force_login(staff)
    page = client.get(reverse("referrals:notifications"))
    assert len(page.context["notifications"]) == 1
    assert page.context["unread_notifications"] == 1
    client.post(reverse("referrals:notifications"))
    assert not Notification.objects.filter(user=staff).unread().exists()


def test_patient_page_lists_referrals_and_consents(client, sent, referrer):
    client.force_login(referrer)
    page = client.get(reverse("patients:detail", args=[sent.patient.pk]))
    assert page.context["referrals"] == [sent]
    assert page.context["consents"] == [sent.consent]


def test_inbox_and_list_come_in_pages_of_25(client, patient, service, referrer, staff):
    for _ in range(27):
        referral(patient, service, referrer)
    client.force_login(staff)
    first = client.get(reverse("referrals:inbox"))
    assert len(first.context["rows"]) == 25
    assert first.context["pager"].next_url == "?page=2"
    second = client.get(reverse("referrals:inbox"), {"tab": "new", "page": "2"})
    assert len(second.context["rows"]) == 2
    assert second.context["pager"].previous_url == "?tab=new&page=1"
    assert {r.pk for r in first.context["rows"]}.isdisjoint(r.pk for r in second.context["rows"])
    assert client.get(reverse("referrals:inbox"), {"page": "x"}).context["pager"].number == 1
    client.force_login(referrer)
    listed = client.get(reverse("referrals:list"), {"page": "99"})
    assert listed.context["pager"].number == 2
    assert len(listed.context["referrals"]) == 2


def test_a_live_update_is_one_request_with_thread_and_timeline_out_of_band(
    client, sent, referrer, staff
):
    sent.post_message(by=staff, organization=sent.receiving_organization, body="Call me back")
    client.force_login(referrer)
    response = client.get(
        reverse("referrals:detail", args=[sent.pk]), {"part": "live"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="referral-status"')
    assert '<div id="thread" hx-swap-oob="true">' in html
    assert '<section id="timeline" aria-labelledby="timeline-heading" hx-swap-oob="true">' in html
    assert "Call me back" in html
    assert "<html" not in html
    # the message form is not part of it: what someone is typing stays
    assert 'name="body"' not in html


def test_the_timeline_shows_the_latest_twenty_lines_with_a_link_to_all(
    client, sent, referrer, staff
):
    organization = sent.receiving_organization
    sent.apply("accept", by=staff, organization=organization)
    sent.apply("start", by=staff, organization=organization)
    for _ in range(12):
        sent.apply("hold", by=staff, organization=organization, reason="waiting")
        sent.apply("resume", by=staff, organization=organization)
    client.force_login(referrer)
    url = reverse("referrals:detail", args=[sent.pk])
    page = client.get(url)
    assert len(page.context["events"]) == 20
    assert page.context["earlier_events"] == 27 - 20
    assert page.context["events"][-1].to_status == "in-progress"  # newest last
    full = client.get(url, {"timeline": "all"})
    assert len(full.context["events"]) == 27
    assert full.context["earlier_events"] == 0


def test_from_a_patient_page_the_directory_carries_the_patient_to_refer(
    client, referrer, patient, service
):
    client.force_login(referrer)
    response = client.get(
        reverse("referrals:new"), {"patient": patient.pk, "need": "food-insecurity"}
    )
    assert response.status_code == 302
    assert response.url.startswith(reverse("directory:search"))
    assert f"patient={patient.pk}" in response.url and "need=food-insecurity" in response.url
    page = client.get(response.url).content.decode()
    assert f'<input type="hidden" name="patient" value="{patient.pk}">' in page
    assert f"?service={service.pk}&amp;patient={patient.pk}" in page


def test_the_step_form_shows_the_booked_intake_and_a_closed_referral_no_longer_shows_its_step(
    client, sent, staff
):
    organization = sent.receiving_organization
    sent.apply("accept", by=staff, organization=organization)
    client.force_login(staff)
    day = _days_from_today(3)
    client.post(
        reverse("referrals:step", args=[sent.pk]),
        {"step": "intake-booked", "intake_at": f"{day}T09:30"},
    )
    detail = reverse("referrals:detail", args=[sent.pk])

    html = client.get(detail).content.decode()
    assert f'name="intake_at" value="{day}T09:30"' in html  # saving the step again keeps it
    assert 'data-testid="step"' in html

    sent.refresh_from_db()
    sent.apply("start", by=staff, organization=organization)
    sent.apply(
        "complete", by=staff, organization=organization, outcome="met", outcome_provided="Groceries"
    )
    html = client.get(detail).content.decode()
    assert 'data-testid="step"' not in html  # the outcome says how it ended
    assert "Intake appointment booked: <time" in html  # still in the timeline


@pytest.mark.parametrize("outcome", ["met", "partly-met", "not-met"])
def test_the_person_page_shows_a_need_reported_met_and_offers_to_resolve_it_with_that_note(
    client, patient, service, referrer, staff, outcome
):
    from datetime import timedelta

    from screening.models import Need
    from tests.factories import NeedFactory, referral

    need = NeedFactory(patient=patient, found_at=timezone.now() - timedelta(days=3))
    made = referral(patient, service, referrer)
    organization = made.receiving_organization
    for step in ("accept", "start"):
        made.apply(step, by=staff, organization=organization)
    made.apply(
        "complete",
        by=staff,
        organization=organization,
        outcome=outcome,
        outcome_provided="Two weeks of groceries",
    )
    client.force_login(referrer)

    html = client.get(reverse("patients:detail", args=[patient.pk])).content.decode()

    marker = 'data-testid="reported-outcome"'
    reported = html.split(marker, 1)[1].split("</p>", 1)[0] if marker in html else None
    if outcome == "not-met":
        assert reported is None
        assert "<details>" in html  # the resolve form stays closed and empty
        assert "Met through the referral" not in html
    else:
        said = "met" if outcome == "met" else "partly met"
        assert f"Eastside Food Bank reported this need {said} on " in reported
        assert "Two weeks of groceries" in reported
        assert reverse("referrals:detail", args=[made.pk]) in reported
    if outcome == "met":
        assert "<details open>" in html
        assert (
            f'name="note" rows="2" required>Met through the referral to {service.name}'
            " (Eastside Food Bank): Two weeks of groceries</textarea>"
        ) in html
    # Nothing is resolved until the clinic says so.
    need.refresh_from_db()
    assert need.status == Need.Status.ACTIVE


def test_a_referral_closed_before_the_need_was_found_again_is_not_reported_for_it(
    client, patient, service, referrer, staff
):
    from datetime import timedelta

    from tests.factories import NeedFactory, referral

    made = referral(patient, service, referrer)
    organization = made.receiving_organization
    for step in ("accept", "start"):
        made.apply(step, by=staff, organization=organization)
    made.apply(
        "complete", by=staff, organization=organization, outcome="met", outcome_provided="Food"
    )
    NeedFactory(
        patient=patient, found_at=timezone.now() + timedelta(minutes=1)
    )  # found again later
    client.force_login(referrer)

    html = client.get(reverse("patients:detail", args=[patient.pk])).content.decode()

    assert 'data-testid="reported-outcome"' not in html
