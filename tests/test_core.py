from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.models import Role
from tests.factories import member

pytestmark = pytest.mark.django_db


def test_healthz_reports_ok_when_database_and_channel_layer_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "failures": []}


@override_settings(
    CHANNEL_LAYERS={
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Nothing listens on port 1: the layer cannot answer.
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
)
def test_healthz_returns_503_and_names_the_channel_layer_when_it_is_down(client):
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failures"][0].startswith("channel layer:")


def test_home_invites_an_anonymous_visitor_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 200
    assert reverse("account_login") in response.content.decode()


@pytest.mark.parametrize(
    ("role", "kind", "expected", "absent"),
    [
        (Role.REFERRER, "refers", "screen them for social needs", "Check your inbox"),
        (Role.CBO_STAFF, "receives", "Check your inbox", "screen them for social needs"),
        (Role.ORG_ADMIN, "receives", "Members page", "screen them for social needs"),
    ],
)
def test_each_roles_home_says_what_to_do_next(client, role, kind, expected, absent):
    from tests.factories import OrganizationFactory

    org = OrganizationFactory(kind=kind)
    client.force_login(member(org, role))
    body = client.get("/").content.decode()
    assert expected in body
    assert absent not in body
    assert org.name in body  # the header names the current organization


def test_org_admin_nav_has_members_and_others_do_not(client, food_admin, staff):
    client.force_login(food_admin)
    assert reverse("accounts:members") in client.get("/").content.decode()
    client.force_login(staff)
    assert reverse("accounts:members") not in client.get("/").content.decode()


def test_a_person_cannot_sign_themselves_up(client):
    response = client.get(reverse("account_signup"))
    assert "closed" in response.content.decode().lower() or response.status_code != 200


def test_seed_demo_is_safe_to_run_twice(settings):
    from django.core.management import call_command

    from accounts.models import Membership, User
    from directory.models import Organization

    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    from patients.models import Patient
    from referrals.models import Referral

    def counts():
        return [m.objects.count() for m in (Organization, User, Membership, Patient, Referral)]

    first = counts()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert counts() == first
    assert first[-1] == 3  # demo referrals: new, accepted, in progress
    assert set(Referral.objects.values_list("status", flat=True)) == {
        "requested",
        "accepted",
        "in-progress",
    }
    assert User.objects.get(email="ana.rivera@riverside-chc.example.org").check_password(
        "handoff-demo-2026"
    )


def test_the_language_picker_keeps_a_signed_in_persons_choice_as_their_preferred_language(
    client, staff
):
    client.force_login(staff)
    response = client.post(reverse("set_language"), {"language": "es", "next": "/referrals/inbox/"})
    assert response.status_code == 302
    assert response["Location"] == "/referrals/inbox/"
    assert client.cookies["django_language"].value == "es"
    staff.refresh_from_db()
    assert staff.preferred_language == "es"
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    staff.refresh_from_db()
    assert staff.preferred_language == "es"  # not a language of the portal: nothing changes


def test_the_language_picker_still_works_for_a_visitor(client, db):
    response = client.post(reverse("set_language"), {"language": "es", "next": "/"})
    assert response.status_code == 302
    assert client.cookies["django_language"].value == "es"
