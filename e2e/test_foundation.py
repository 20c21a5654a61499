"""Sign-in for every demo role, membership management, and the live-update pipeline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.demo import DEMO_PASSWORD, seed_people
from accounts.models import Role
from e2e.helpers import assert_accessible, read_mail, sign_in, wait_for_live
from tests.factories import ClinicFactory, OrganizationFactory, member

HOME_TEXT = {
    Role.REFERRER: "screen them for social needs",
    Role.CBO_STAFF: "Check your inbox for new referrals",
    Role.ORG_ADMIN: "Members page",
}


def test_each_demo_role_signs_in_through_the_form_and_lands_on_its_home(new_page, live_url):
    seeded = seed_people(with_known_password=True)
    seen_roles = set()
    for organization, person in seeded:
        if person.role in seen_roles and organization.kind != "refers":
            continue
        seen_roles.add(person.role)
        page = new_page()
        page.goto(f"{live_url}/accounts/login/")
        assert_accessible(page)
        sign_in(page, live_url, person.email, DEMO_PASSWORD)
        expect(page.get_by_test_id("current-org")).to_contain_text(organization.name)
        expect(page.get_by_test_id("next-steps")).to_contain_text(HOME_TEXT[person.role])
        assert_accessible(page)
    assert seen_roles == {Role.REFERRER, Role.CBO_STAFF, Role.ORG_ADMIN}


def test_a_wrong_password_shows_the_error_and_stays_signed_out(page, live_url):
    person = member(OrganizationFactory(), Role.CBO_STAFF)
    page.goto(f"{live_url}/accounts/login/")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign In").click()
    expect(
        page.get_by_text("The email address and/or password you specified are not correct.")
    ).to_be_visible()
    assert "/accounts/login/" in page.url
    assert_accessible(page)


def test_an_org_admin_adds_a_member_who_then_sets_a_password_and_signs_in(
    page, new_page, live_url, mail_dir
):
    org = OrganizationFactory(name="Northside Pantry")
    admin = member(org, Role.ORG_ADMIN)
    sign_in(page, live_url, admin.email)
    page.get_by_role("navigation", name="Primary navigation").get_by_role(
        "link", name="Members"
    ).click()
    expect(page.get_by_role("heading", name="Members", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Email address").fill("newcomer@northside.example.org")
    page.get_by_label("Full name").fill("Nina Newcomer")
    page.get_by_label(re.compile(r"^Role\W*$")).select_option("cbo_staff")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("Nina Newcomer was added.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Nina Newcomer"))).to_be_visible()
    assert_accessible(page)

    mail = read_mail(mail_dir, "newcomer@northside.example.org")
    link = re.search(r"http://\S+/accounts/password/reset/key/\S+", mail).group(0)
    newcomer = new_page()
    newcomer.goto(link)
    password = "a brand new passphrase 77"
    newcomer.get_by_label(re.compile(r"^New Password\W*$")).fill(password)
    newcomer.get_by_label(re.compile(r"^New Password \(again\)")).fill(password)
    assert_accessible(newcomer)
    newcomer.get_by_role("button", name=re.compile("Change Password", re.I)).click()
    sign_in(newcomer, live_url, "newcomer@northside.example.org", password)
    expect(newcomer.get_by_test_id("current-org")).to_contain_text("Northside Pantry")
    expect(newcomer.get_by_test_id("next-steps")).to_contain_text("Check your inbox")


def test_the_members_page_updates_live_when_another_admin_adds_someone(new_page, live_url):
    """Websocket smoke test: a page subscribes, the server pushes, the text appears."""
    org = OrganizationFactory(name="Live Org")
    first, second = member(org, Role.ORG_ADMIN), member(org, Role.ORG_ADMIN)
    watching = new_page()
    sign_in(watching, live_url, first.email)
    watching.goto(f"{live_url}/organizations/members/")
    wait_for_live(watching)
    expect(watching.get_by_test_id("member-row")).to_have_count(2)

    acting = new_page()
    sign_in(acting, live_url, second.email)
    acting.goto(f"{live_url}/organizations/members/")
    acting.get_by_label("Email address").fill("pushed@live.example.org")
    acting.get_by_label("Full name").fill("Pushed Person")
    acting.get_by_role("button", name="Add member").click()

    # No reload on the watching page: the row arrives over the websocket.
    expect(watching.get_by_role("row", name=re.compile("Pushed Person"))).to_be_visible()
    expect(watching.get_by_test_id("member-row")).to_have_count(3)
    assert_accessible(watching)

    # The pushed rows' forms work: the watching admin changes the new person's role.
    row = watching.get_by_role("row", name=re.compile("Pushed Person"))
    row.get_by_label("Role of Pushed Person").select_option("org_admin")
    row.get_by_role("button", name="Change role").click()
    expect(watching.get_by_text("Pushed Person is now")).to_be_visible()


@pytest.mark.parametrize("path", ["/", "/accounts/password/reset/"])
def test_public_pages_are_accessible(page, live_url, path):
    page.goto(f"{live_url}{path}")
    expect(page.locator("main#main-content")).to_be_visible()
    assert_accessible(page)


def test_the_header_and_the_inbox_tabs_fit_a_wide_and_a_phone_screen(new_page, live_url):
    clinic = ClinicFactory(name="Riverside Community Health Center")
    referrer = member(clinic, Role.REFERRER)
    staff = member(OrganizationFactory(name="Eastside Food Bank"), Role.CBO_STAFF)

    wide = new_page()
    wide.set_viewport_size({"width": 1280, "height": 800})
    sign_in(wide, live_url, referrer.email)
    # The long role reads on one line, and the logo sits on the menu's row, not below it.
    role = wide.get_by_test_id("current-org").locator(".usa-tag").bounding_box()
    assert role["height"] < 22, role
    logo = wide.locator(".usa-logo").bounding_box()
    link = wide.get_by_role("link", name="Patients", exact=True).bounding_box()
    logo_middle = logo["y"] + logo["height"] / 2
    assert link["y"] < logo_middle < link["y"] + link["height"], (logo, link)

    phone = new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    sign_in(phone, live_url, staff.email)
    phone.goto(f"{live_url}/referrals/inbox/")
    expect(phone.get_by_test_id("tab-closed")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    closed = phone.get_by_test_id("tab-closed").bounding_box()
    assert closed["x"] + closed["width"] <= 390, closed
