"""With DEBUG off, errors show the portal's own pages in plain language, with a way back."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from accounts.models import Role
from tests.factories import directory_service, member


@pytest.fixture(autouse=True)
def _debug_off(settings):
    settings.DEBUG = False


NOT_FOUND = "We can't find that page"


@pytest.mark.django_db
def test_another_organizations_service_is_a_portal_404_that_does_not_say_it_exists(
    client, food_bank, other_org
):
    pantry = directory_service(name="Weekly Food Pantry", organization=food_bank)
    client.force_login(member(other_org, Role.ORG_ADMIN))

    theirs = client.get(reverse("directory:edit_service", args=[pantry.hsds_id]))
    nowhere = client.get(reverse("directory:edit_service", args=[uuid.uuid4()]))

    assert theirs.status_code == nowhere.status_code == 404
    html = theirs.content.decode()
    assert NOT_FOUND in html
    assert "does not exist, or you don't have access to it" in html
    assert 'aria-label="Primary navigation"' in html  # the portal's header and menu
    assert f'href="{reverse("home")}"' in html
    assert "Weekly Food Pantry" not in html
    assert [t.name for t in theirs.templates] == [t.name for t in nowhere.templates]


@pytest.mark.django_db
def test_a_page_the_role_does_not_allow_is_a_portal_403_that_says_whom_to_ask(client, clinic):
    client.force_login(member(clinic, Role.REFERRER))

    response = client.get(reverse("referrals:inbox"))

    assert response.status_code == 403
    html = response.content.decode()
    assert "ask your organization's admin" in html
    assert 'aria-label="Primary navigation"' in html


@pytest.mark.django_db
def test_a_form_sent_without_its_security_token_says_to_reload_and_try_again():
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("account_login"), {"login": "a@example.org", "password": "x"})

    assert response.status_code == 403
    html = response.content.decode()
    assert "Go back, reload the page, and send the form again." in html
    assert 'href="/"' in html


def test_the_500_page_renders_without_the_database_or_the_request_context():
    # No django_db mark: any query here would fail the test.
    response = server_error(RequestFactory().get("/"))

    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert 'href="/"' in html
    assert "uswds.min.css" in html
