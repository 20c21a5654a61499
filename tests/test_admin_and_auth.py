from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import reverse

from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def platform_admin(db):
    return UserFactory(is_staff=True, is_superuser=True)


def test_every_model_has_a_working_admin_list_and_add_page(client, platform_admin):
    client.force_login(platform_admin)
    assert admin.site._registry, "no models registered"
    for model in admin.site._registry:
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist
        add = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
        # (an admin may send "add" to a page of its own, as HSDS imports send it to the upload)
        assert client.get(add, follow=True).status_code in (200, 403), add


def test_admin_is_closed_to_people_who_are_not_platform_staff(client, staff):
    client.force_login(staff)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_repeated_failed_sign_ins_are_rate_limited(client, staff):
    url = reverse("account_login")
    for _ in range(5):
        response = client.post(url, {"login": staff.email, "password": "wrong"})
        assert response.status_code == 200
    # Even the right password is refused while the limit holds.
    response = client.post(url, {"login": staff.email, "password": TEST_PASSWORD})
    assert response.status_code == 429 or "Too many failed" in response.content.decode()
    assert "_auth_user_id" not in client.session


# Another portal process, as daphne runs several in production: a Python of its own, with the
# same settings, where five sign-ins for ``email`` have failed (allauth's own count of them).
OTHER_PROCESS = """
import sys
import django

django.setup()
from allauth.account.adapter import get_adapter
from django.test import RequestFactory

request = RequestFactory().post("/accounts/login/")
for _ in range(5):
    get_adapter(request).pre_authenticate(request, email=sys.argv[1])
"""


@pytest.mark.skipif(
    not settings.REDIS_URL, reason="one process without REDIS_URL: its memory is the cache"
)
def test_failed_sign_ins_in_another_process_count_toward_the_limit_here(client, staff):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "handoff.settings",
        "ALLOWED_HOSTS": "testserver",
    }
    other = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, staff.email],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode == 0, other.stderr

    # Here, even the right password is refused while the limit holds.
    response = client.post(
        reverse("account_login"), {"login": staff.email, "password": TEST_PASSWORD}
    )
    assert response.status_code == 429 or "Too many failed" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_sign_in_page_says_whom_to_ask_for_an_account_instead_of_offering_the_closed_sign_up(
    client,
):
    assert client.get(reverse("account_signup")).templates[0].name == "account/signup_closed.html"

    html = client.get(reverse("account_login")).content.decode()

    assert reverse("account_signup") not in html
    assert "sign up" not in html.lower()
    assert "Ask your organization's admin to add you." in html


def test_a_password_reset_for_an_unknown_email_does_not_send_a_sign_up_link(client, mailoutbox):
    client.post(reverse("account_reset_password"), {"email": "nobody@example.org"})

    [mail] = mailoutbox
    assert mail.to == ["nobody@example.org"]
    assert reverse("account_signup") not in mail.body
    assert "sign up" not in mail.body.lower()
    assert "ask your organization's admin to add you" in mail.body


def test_signing_in_with_email_and_password_works(client, staff):
    response = client.post(
        reverse("account_login"), {"login": staff.email, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


@pytest.mark.parametrize("name", ["account_change_password", "mfa_index", "account_email"])
def test_account_security_pages_open_for_a_signed_in_person(client, staff, name):
    client.force_login(staff)
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert 'id="main-content"' in response.content.decode()


def test_turning_on_two_step_sign_in_first_asks_for_the_password_again(client, staff):
    client.force_login(staff)
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
