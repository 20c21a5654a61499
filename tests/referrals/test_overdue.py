"""Overdue: due dates in business days, the periodic sweep, and who hears about it."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from referrals.models import Notification, Referral, ReferralEvent
from referrals.tasks import sweep_overdue_referrals
from referrals.transitions import Status

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def test_friday_referral_with_two_business_days_is_due_tuesday(patient, service, referrer):
    from tests.factories import referral

    draft = referral(patient, service, referrer, send=False)
    friday = datetime.datetime(2026, 11, 20, 15, 0, tzinfo=NY)
    draft.apply("send", by=referrer, organization=patient.organization, now=friday)
    draft.refresh_from_db()
    assert draft.due_at.astimezone(NY) == datetime.datetime(2026, 11, 24, 15, 0, tzinfo=NY)
    assert not draft.is_overdue(now=datetime.datetime(2026, 11, 23, 15, 0, tzinfo=NY))  # Monday
    assert draft.is_overdue(now=datetime.datetime(2026, 11, 24, 15, 1, tzinfo=NY))


FRIDAY_3PM = datetime.datetime(2026, 11, 20, 15, 0, tzinfo=NY)


@pytest.mark.parametrize(
    ("priority", "days", "due"),
    [
        ("urgent", 2, datetime.datetime(2026, 11, 21, 15, 0, tzinfo=NY)),  # within a day: Saturday
        ("asap", 2, datetime.datetime(2026, 11, 21, 3, 0, tzinfo=NY)),
        ("stat", 2, datetime.datetime(2026, 11, 20, 19, 0, tzinfo=NY)),  # the same day
        ("routine", 2, datetime.datetime(2026, 11, 24, 15, 0, tzinfo=NY)),  # the service's promise
        ("urgent", 0, FRIDAY_3PM),  # a service promising faster keeps its promise
    ],
)
def test_urgency_brings_the_due_date_forward_from_the_services_promise(
    patient, service, referrer, priority, days, due
):
    from tests.factories import referral

    service.response_time_days = days
    service.save()
    draft = referral(patient, service, referrer, send=False, priority=priority)
    draft.apply("send", by=referrer, organization=patient.organization, now=FRIDAY_3PM)
    draft.refresh_from_db()
    assert draft.due_at == due


def test_the_inbox_lists_an_urgent_referral_above_an_older_routine_one(
    client, patient, service, referrer, staff
):
    from django.urls import reverse

    from tests.factories import referral

    routine = referral(patient, service, referrer, send=False)
    urgent = referral(patient, service, referrer, send=False, priority="urgent")
    routine.apply(
        "send",
        by=referrer,
        organization=patient.organization,
        now=timezone.now() - datetime.timedelta(hours=1),
    )
    urgent.apply("send", by=referrer, organization=patient.organization)
    client.force_login(staff)
    rows = client.get(reverse("referrals:inbox"), {"tab": "new"}).context["rows"]
    assert [r.pk for r in rows] == [urgent.pk, routine.pk]


def test_the_urgency_list_goes_from_most_to_least_urgent():
    from referrals.forms import ReferralForm

    choices = [value for value, _label in ReferralForm.base_fields["priority"].choices]
    assert choices == ["stat", "asap", "urgent", "routine"]
    assert ReferralForm.base_fields["priority"].initial == "routine"


def test_sweep_flags_once_and_tells_receiving_admins_and_the_referrer(
    sent, staff, food_admin, referrer
):
    Referral.objects.filter(pk=sent.pk).update(due_at=timezone.now() - datetime.timedelta(hours=2))
    assert sweep_overdue_referrals.call(reschedule=False) == 1
    assert sweep_overdue_referrals.call(reschedule=False) == 0  # never twice
    sent.refresh_from_db()
    assert sent.escalated_at is not None
    assert sent.events.filter(kind=ReferralEvent.Kind.OVERDUE).count() == 1
    told = set(Notification.objects.filter(kind="overdue").values_list("user_id", flat=True))
    assert told == {food_admin.pk, referrer.pk}  # staff see it in the inbox, admins are told


def test_accepted_referrals_are_never_overdue(sent, staff):
    sent.apply("accept", by=staff, organization=sent.receiving_organization)
    Referral.objects.filter(pk=sent.pk).update(due_at=timezone.now() - datetime.timedelta(days=3))
    assert sweep_overdue_referrals.call(reschedule=False) == 0
    assert not Referral.objects.overdue().exists()


def test_sweep_reschedules_itself(sent):
    from django_tasks_db.models import DBTaskResult

    sweep_overdue_referrals.call(reschedule=True)
    pending = DBTaskResult.objects.filter(task_path__endswith="sweep_overdue_referrals")
    assert pending.count() == 1
    assert pending.get().run_after > timezone.now()


def test_received_but_unanswered_is_still_overdue(sent, staff):
    sent.apply("receive", by=staff, organization=sent.receiving_organization)
    Referral.objects.filter(pk=sent.pk).update(due_at=timezone.now() - datetime.timedelta(hours=1))
    assert list(Referral.objects.overdue()) == [Referral.objects.get(pk=sent.pk)]
    assert Referral.objects.get(pk=sent.pk).status == Status.RECEIVED
