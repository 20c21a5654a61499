from __future__ import annotations

import pytest
from django.http import Http404
from django.test import RequestFactory

from accounts.models import Membership, Role
from accounts.scoping import (
    current_membership,
    get_in_current_org_or_404,
    scoped_to_current_org,
    switch_organization,
)
from directory.models import Organization
from tests.factories import MembershipFactory, OrganizationFactory, member


def request_for(user, session=None):
    request = RequestFactory().get("/")
    request.user = user
    request.session = session if session is not None else {}
    return request


@pytest.mark.django_db
def test_a_user_of_organization_a_asking_for_organization_bs_membership_gets_404(
    food_admin, stranger, other_org
):
    theirs = Membership.objects.get(user=stranger, organization=other_org)
    with pytest.raises(Http404):
        get_in_current_org_or_404(Membership.objects.all(), request_for(food_admin), pk=theirs.pk)


@pytest.mark.django_db
def test_scoped_queryset_holds_only_the_current_organizations_rows(food_bank, staff, stranger):
    rows = scoped_to_current_org(Membership.objects.all(), request_for(staff))
    assert {m.organization_id for m in rows} == {food_bank.pk}


@pytest.mark.django_db
def test_a_user_with_no_membership_sees_nothing(db):
    from tests.factories import UserFactory

    loner = UserFactory()
    request = request_for(loner)
    assert current_membership(request) is None
    assert list(scoped_to_current_org(Membership.objects.all(), request)) == []


@pytest.mark.django_db
def test_organizations_for_user_lists_only_their_own(staff, food_bank, other_org):
    assert list(Organization.objects.for_user(staff)) == [food_bank]


@pytest.mark.django_db
def test_switching_to_an_organization_the_user_is_not_in_gives_404(staff, other_org):
    with pytest.raises(Http404):
        switch_organization(request_for(staff), other_org.pk)


@pytest.mark.django_db
def test_a_member_of_two_organizations_acts_for_the_one_chosen(food_bank):
    second = OrganizationFactory(name="Zeta Housing")
    person = member(food_bank, Role.CBO_STAFF)
    MembershipFactory(user=person, organization=second, role=Role.ORG_ADMIN)
    session = {}
    assert current_membership(request_for(person, session)).organization == food_bank
    switch_organization(request_for(person, session), second.pk)
    chosen = current_membership(request_for(person, session))
    assert (chosen.organization, chosen.role) == (second, Role.ORG_ADMIN)
