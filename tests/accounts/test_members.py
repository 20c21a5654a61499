from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Membership, Role, User
from tests.factories import member

pytestmark = pytest.mark.django_db

MEMBERS = reverse("accounts:members")


def test_not_signed_in_goes_to_the_sign_in_page(client):
    response = client.get(MEMBERS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_staff_who_are_not_admins_may_not_manage_members(client, staff):
    client.force_login(staff)
    assert client.get(MEMBERS).status_code == 403
    response = client.post(
        MEMBERS, {"email": "new@example.org", "full_name": "New", "role": Role.CBO_STAFF}
    )
    assert response.status_code == 403
    assert not User.objects.filter(email="new@example.org").exists()


def test_admin_sees_only_their_own_organizations_members(client, food_admin, staff, stranger):
    client.force_login(food_admin)
    response = client.get(MEMBERS)
    assert response.status_code == 200
    body = response.content.decode()
    assert staff.email in body
    assert stranger.email not in body


def test_admin_adds_a_new_person_who_gets_an_invitation_to_set_a_password(
    client, food_admin, food_bank, django_capture_on_commit_callbacks
):
    client.force_login(food_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            MEMBERS,
            {"email": "New.Person@Example.org", "full_name": "New Person", "role": "cbo_staff"},
        )
    assert response.status_code == 302
    person = User.objects.get(email="new.person@example.org")
    assert not person.has_usable_password()
    assert Membership.objects.get(user=person).organization == food_bank
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@example.org"]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_adding_an_existing_member_again_is_refused_at_the_field(client, food_admin, staff):
    client.force_login(food_admin)
    response = client.post(
        MEMBERS, {"email": staff.email, "full_name": "Again", "role": Role.ORG_ADMIN}
    )
    assert response.status_code == 400
    assert "already a member" in response.content.decode()
    assert Membership.objects.get(user=staff).role == Role.CBO_STAFF


def test_bad_role_is_refused_and_changes_nothing(client, food_admin):
    client.force_login(food_admin)
    response = client.post(MEMBERS, {"email": "x@example.org", "full_name": "X", "role": "king"})
    assert response.status_code == 400
    assert not User.objects.filter(email="x@example.org").exists()


def test_admin_changes_a_members_role(client, food_admin, staff):
    client.force_login(food_admin)
    membership = Membership.objects.get(user=staff)
    client.post(reverse("accounts:change_role", args=[membership.pk]), {"role": Role.ORG_ADMIN})
    membership.refresh_from_db()
    assert membership.role == Role.ORG_ADMIN


def test_the_last_admin_cannot_demote_or_remove_themselves(client, food_admin):
    client.force_login(food_admin)
    own = Membership.objects.get(user=food_admin)
    response = client.post(
        reverse("accounts:change_role", args=[own.pk]), {"role": Role.CBO_STAFF}, follow=True
    )
    assert "at least one admin" in response.content.decode()
    client.post(reverse("accounts:remove_member", args=[own.pk]))
    own.refresh_from_db()
    assert own.role == Role.ORG_ADMIN


def test_admin_removes_a_member(client, food_admin, staff):
    client.force_login(food_admin)
    membership = Membership.objects.get(user=staff)
    client.post(reverse("accounts:remove_member", args=[membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_admin_of_another_organization_gets_404_on_our_members(client, staff, stranger):
    client.force_login(stranger)
    membership = Membership.objects.get(user=staff)
    assert (
        client.post(
            reverse("accounts:change_role", args=[membership.pk]), {"role": "org_admin"}
        ).status_code
        == 404
    )
    assert client.post(reverse("accounts:remove_member", args=[membership.pk])).status_code == 404
    membership.refresh_from_db()
    assert membership.role == Role.CBO_STAFF


def test_members_page_query_count_does_not_grow_with_members(
    client, food_admin, food_bank, django_assert_max_num_queries
):
    for _ in range(15):
        member(food_bank, Role.CBO_STAFF)
    client.force_login(food_admin)
    with django_assert_max_num_queries(10):
        assert client.get(MEMBERS).status_code == 200
