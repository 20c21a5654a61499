"""The loop, with two people at once: a referrer at a clinic and staff at a food bank.

Each has their own browser context; every change one makes must reach the other's open page
over the websocket, without a reload.
"""

from __future__ import annotations

import datetime
import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from directory.models import TaxonomyTerm
from directory.taxonomy import load_taxonomy
from e2e.helpers import assert_accessible, sign_in, wait_for_live
from referrals.models import Referral
from screening.instrument import get_instrument
from tests.factories import (
    ClinicFactory,
    OrganizationFactory,
    PatientFactory,
    ScreeningFactory,
    consent_for,
    directory_service,
    member,
    referral,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def cast(live_url):
    if not TaxonomyTerm.objects.exists():
        load_taxonomy()
    clinic = ClinicFactory(name="Riverside Clinic")
    food_bank = OrganizationFactory(name="Eastside Food Bank")
    referrer = member(clinic, Role.REFERRER, full_name="Rita Referrer")
    staff = member(food_bank, Role.CBO_STAFF, full_name="Stan Staff")
    pantry = directory_service(
        name="Weekly Food Pantry",
        organization=food_bank,
        terms=("food.food-pantry",),
        at=(42.3399, -71.0752),
        languages=("en", "es"),
        response_time_days=2,
    )
    patient = PatientFactory(
        organization=clinic,
        given_name="Rosa",
        family_name="Díaz",
        phone="617-555-0142",
        zip_code="02118",
        registered_by=referrer,
    )
    return {
        "clinic": clinic,
        "food_bank": food_bank,
        "referrer": referrer,
        "staff": staff,
        "pantry": pantry,
        "patient": patient,
    }


def _screened(patient, referrer):
    """A completed screening with food positive (recorded server-side: test_screening.py
    drives the screening form itself)."""
    screening = ScreeningFactory(patient=patient, started_by=referrer)
    for question in get_instrument("ahc-hrsn-core").questions:
        tokens = ["LA6729-3"] if question.code == "88122-7" else ["declined"]
        screening.record(question.code, tokens)
    screening.complete(by=referrer)
    return screening


def _status(page):
    return page.locator("#referral-status").get_by_test_id("status")


def _give_consent(page):
    page.get_by_label(re.compile(r"^How the person gave consent")).select_option("verbal")
    page.get_by_text("I told the person what will be shared").click()


def test_screen_refer_receive_message_accept_book_complete_live(new_page, live_url, cast):
    referrer_page, staff_page = new_page(), new_page()
    screening = _screened(cast["patient"], cast["referrer"])

    sign_in(staff_page, live_url, cast["staff"].email)
    staff_page.get_by_role("link", name="Inbox", exact=True).click()
    wait_for_live(staff_page)
    expect(staff_page.get_by_test_id("inbox-empty")).to_be_visible()
    expect(staff_page.get_by_test_id("count-new")).to_have_text("0")

    # The referrer starts from the screening result: the draft is pre-filled.
    sign_in(referrer_page, live_url, cast["referrer"].email)
    referrer_page.goto(f"{live_url}/screening/{screening.pk}/results/")
    referrer_page.get_by_role("link", name="Refer to Weekly Food Pantry").click()
    expect(referrer_page.get_by_role("heading", level=1)).to_have_text(
        "Refer Rosa Díaz to Weekly Food Pantry"
    )
    expect(referrer_page.get_by_label(re.compile(r"^Need this referral addresses"))).to_have_value(
        "food-insecurity"
    )
    assert_accessible(referrer_page)
    referrer_page.get_by_label("Best times to reach them").fill("Mornings before 11")
    referrer_page.get_by_label("Note for the receiving organization").fill(
        "Family of four; Saturday pick-up is easiest."
    )
    # Sending without consent is refused, and says why, in place.
    referrer_page.get_by_role("button", name="Send referral").click()
    expect(referrer_page.locator(".usa-error-message").first).to_be_visible()
    assert not Referral.objects.exists()
    _give_consent(referrer_page)
    referrer_page.get_by_role("button", name="Send referral").click()
    expect(_status(referrer_page)).to_have_text("Sent")
    wait_for_live(referrer_page)
    made = Referral.objects.get()

    # The new referral appears in the food bank's inbox without a reload.
    expect(staff_page.get_by_test_id("inbox-row")).to_have_count(1)
    expect(staff_page.get_by_test_id("count-new")).to_have_text("1")
    assert_accessible(staff_page)

    # Opening it marks it seen; the referrer's open page shows that live.
    staff_page.get_by_role("link", name="Rosa Díaz").click()
    expect(staff_page.get_by_text("Family of four; Saturday pick-up is easiest.")).to_be_visible()
    expect(staff_page.get_by_text("617-555-0142")).to_be_visible()  # consent allowed contact
    wait_for_live(staff_page)
    expect(_status(referrer_page)).to_have_text("Seen")

    # Messages both ways, live.
    staff_page.get_by_role("textbox", name="Message").fill(
        "Hola Rosa's team: can she come Saturday?"
    )
    staff_page.get_by_role("button", name="Send message").click()
    expect(referrer_page.get_by_test_id("message")).to_contain_text(
        ["Hola Rosa's team: can she come Saturday?"]
    )
    # The sender's page replaces its Messages section: one thread, the box emptied.
    expect(staff_page.get_by_test_id("message")).to_have_count(1)
    expect(staff_page.get_by_role("heading", name="Messages")).to_have_count(1)
    expect(staff_page.get_by_role("textbox", name="Message")).to_have_count(1)
    expect(staff_page.get_by_role("textbox", name="Message")).to_have_value("")
    # two notifications pushed live to the nav: "seen", then the message
    expect(referrer_page.get_by_test_id("nav-unread")).to_have_text(re.compile(r"^\s*2 unread\s*$"))
    referrer_page.get_by_role("textbox", name="Message").fill("Yes, Saturday at 10 works.")
    referrer_page.get_by_role("button", name="Send message").click()
    expect(staff_page.get_by_test_id("message")).to_have_count(2)
    expect(staff_page.get_by_test_id("message").nth(1)).to_contain_text("Saturday at 10 works")

    # Accept, book the intake, start, complete: each shows on the referrer's page live.
    staff_page.get_by_role("button", name="Accept", exact=True).click()
    expect(_status(staff_page)).to_have_text("Accepted")
    expect(_status(referrer_page)).to_have_text("Accepted")
    staff_page.get_by_label(re.compile(r"^Current step")).select_option("intake-booked")
    intake = (datetime.date.today() + datetime.timedelta(days=5)).isoformat()
    staff_page.get_by_label("Intake appointment (date and time)").fill(f"{intake}T10:00")
    staff_page.get_by_role("button", name="Update step").click()
    expect(referrer_page.get_by_test_id("step")).to_contain_text("Intake appointment booked")
    staff_page.get_by_role("button", name="Start work").click()
    expect(_status(referrer_page)).to_have_text("In progress")
    staff_page.locator("summary", has_text=re.compile(r"^Complete$")).click()
    # USWDS draws its own radio and moves the input off screen: a person clicks the label.
    staff_page.get_by_role("group", name="Was the need met?").get_by_text(
        "Need met", exact=True
    ).click()
    expect(staff_page.get_by_role("radio", name="Need met", exact=True)).to_be_checked()
    staff_page.get_by_label(re.compile(r"^What was provided")).fill("Groceries for two weeks")
    staff_page.get_by_role("button", name="Complete with this outcome").click()
    expect(_status(staff_page)).to_have_text("Completed")
    expect(_status(referrer_page)).to_have_text("Completed")
    expect(referrer_page.get_by_test_id("outcome")).to_contain_text("Groceries for two weeks")
    # The service met the need: the referrer is asked, live, whether it is resolved.
    expect(referrer_page.get_by_test_id("resolve-needs")).to_contain_text(
        "The service says the need was met."
    )
    assert_accessible(referrer_page)
    assert_accessible(staff_page)

    made.refresh_from_db()
    assert made.status == "completed" and made.outcome == "met"
    assert list(
        made.events.filter(kind="status").order_by("pk").values_list("to_status", flat=True)
    ) == ["requested", "received", "accepted", "in-progress", "completed"]

    # Resolving it from there starts from the outcome and comes back to the referral.
    referrer_page.get_by_role("link", name="Resolve “Food”").click()
    expect(referrer_page.get_by_label(re.compile(r"^How was it resolved"))).to_have_value(
        re.compile(r"^Referral to .+: Need met\. Groceries for two weeks$")
    )
    assert_accessible(referrer_page)
    referrer_page.get_by_role("button", name="Resolve need").click()
    expect(referrer_page.get_by_text("Need resolved: Food.")).to_be_visible()
    expect(referrer_page.get_by_test_id("resolve-needs")).to_have_count(0)
    assert made.needs.get().status == "resolved"


def test_decline_then_reroute_and_cancel(new_page, live_url, cast):
    other = directory_service(
        name="Westside Pantry", terms=("food.food-pantry",), at=(42.345, -71.08)
    )
    sent = referral(cast["patient"], cast["pantry"], cast["referrer"])
    referrer_page, staff_page = new_page(), new_page()
    sign_in(referrer_page, live_url, cast["referrer"].email)
    referrer_page.goto(f"{live_url}/referrals/{sent.pk}/")
    wait_for_live(referrer_page)
    sign_in(staff_page, live_url, cast["staff"].email)
    staff_page.goto(f"{live_url}/referrals/{sent.pk}/")
    staff_page.locator("summary", has_text="Decline").click()
    staff_page.get_by_label(re.compile(r"^Reason")).select_option("no-capacity")
    staff_page.get_by_role("button", name="Confirm: Decline").click()
    expect(_status(referrer_page)).to_have_text("Declined")

    # The referrer's page now offers similar services; re-routing is one step.
    referrer_page.get_by_role("link", name="Send to a similar service").click()
    expect(referrer_page.get_by_test_id("reroute-option")).to_contain_text(["Westside Pantry"])
    assert_accessible(referrer_page)
    _give_consent(referrer_page)
    referrer_page.get_by_role("button", name="Send to this service").click()
    expect(_status(referrer_page)).to_have_text("Sent")
    rerouted = Referral.objects.get(rerouted_from=sent)
    assert rerouted.service == other

    # ...and cancels it with a reason.
    referrer_page.locator("summary", has_text="Cancel referral").click()
    referrer_page.get_by_label(re.compile(r"^Reason")).select_option("need-met-elsewhere")
    referrer_page.get_by_role("button", name="Confirm: Cancel referral").click()
    expect(_status(referrer_page)).to_have_text("Cancelled")


def test_consent_withdrawal_hides_details_from_the_open_receiving_page(new_page, live_url, cast):
    sent = referral(cast["patient"], cast["pantry"], cast["referrer"])
    referrer_page, staff_page = new_page(), new_page()
    sign_in(staff_page, live_url, cast["staff"].email)
    staff_page.goto(f"{live_url}/referrals/{sent.pk}/")
    expect(staff_page.get_by_text("617-555-0142")).to_be_visible()
    wait_for_live(staff_page)

    sign_in(referrer_page, live_url, cast["referrer"].email)
    referrer_page.goto(f"{live_url}/patients/{cast['patient'].pk}/")
    referrer_page.locator("summary", has_text="Withdraw consent for Eastside Food Bank").click()
    referrer_page.get_by_role("button", name="Withdraw consent").click()
    expect(referrer_page.get_by_text("Consent withdrawn.")).to_be_visible()

    # The staff member's open page shows the cancellation live; on the next look the
    # details are gone.
    expect(_status(staff_page)).to_have_text("Cancelled")
    staff_page.reload()
    expect(staff_page.get_by_test_id("consent-withdrawn")).to_be_visible()
    expect(staff_page.get_by_text("617-555-0142")).to_have_count(0)


def test_the_live_signal_alone_shows_the_new_status(new_page, live_url, cast):
    """The signal carries the status tag: the referrer's detail page and patient page show
    the new status even when their re-fetch never comes back; the re-fetch then brings the
    rest (here it is blocked, to prove the status did not come from it)."""
    sent = referral(cast["patient"], cast["pantry"], cast["referrer"])
    referrer_page, staff_page = new_page(), new_page()
    sign_in(referrer_page, live_url, cast["referrer"].email)
    patient_page = referrer_page.context.new_page()  # the referrer's second tab
    refetches = []

    def block(route):
        refetches.append(route.request.url)
        route.abort()

    referrer_page.route(re.compile(r".*[?&]part=live.*"), block)
    referrer_page.goto(f"{live_url}/referrals/{sent.pk}/")
    expect(_status(referrer_page)).to_have_text("Sent")
    wait_for_live(referrer_page)
    patient_page.goto(f"{live_url}/patients/{cast['patient'].pk}/")
    wait_for_live(patient_page)
    row_status = patient_page.locator(f'[data-status-of="{sent.pk}"]').get_by_test_id("status")
    expect(row_status).to_have_text("Sent")

    sign_in(staff_page, live_url, cast["staff"].email)
    staff_page.goto(f"{live_url}/referrals/{sent.pk}/")  # opening it marks it seen
    expect(_status(referrer_page)).to_have_text("Seen")
    expect(row_status).to_have_text("Seen")
    staff_page.get_by_role("button", name="Accept").click()
    expect(_status(staff_page)).to_have_text("Accepted")
    expect(_status(referrer_page)).to_have_text("Accepted")
    expect(row_status).to_have_text("Accepted")
    assert refetches  # the page did try to re-fetch the rest of its status section


def test_referral_pages_pass_axe_and_work_from_the_keyboard(new_page, live_url, cast):
    sent = referral(cast["patient"], cast["pantry"], cast["referrer"])
    admin = member(cast["food_bank"], Role.ORG_ADMIN, full_name="Fay Admin")
    page = new_page()
    sign_in(page, live_url, admin.email)
    for path in (
        "/referrals/inbox/",
        "/referrals/notifications/",
        "/referrals/notifications/email/",
        "/referrals/audit/",
    ):
        page.goto(f"{live_url}{path}")
        expect(page.get_by_role("main")).to_be_visible()
        assert_accessible(page)
    # Keyboard only: from the inbox, tab to the referral and open it with Enter.
    page.goto(f"{live_url}/referrals/inbox/")
    link = page.get_by_role("link", name="Rosa Díaz")
    for _ in range(40):
        page.keyboard.press("Tab")
        if link.evaluate("el => el === document.activeElement"):
            break
    page.keyboard.press("Enter")
    expect(_status(page)).to_have_text("Seen")
    assert_accessible(page)
    # On a phone the actions (Accept, Decline, ...) stay within the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_text("Decline", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 720})
    # The referrer's list, filtered from the keyboard-operable form.
    referrer_page = new_page()
    sign_in(referrer_page, live_url, cast["referrer"].email)
    referrer_page.goto(f"{live_url}/referrals/?status=received")
    expect(referrer_page.get_by_test_id("referral-row")).to_have_count(1)
    assert_accessible(referrer_page)
    assert Referral.objects.get(pk=sent.pk).status == "received"


def test_a_live_update_keeps_an_open_panel_and_its_typed_text(new_page, live_url, cast):
    """The other side acts while someone is filling in a panel: the panel stays open with
    what they typed, the status shows the change, and a panel whose action is no longer
    allowed goes away."""
    sent = referral(cast["patient"], cast["pantry"], cast["referrer"])
    referrer_page, staff_page = new_page(), new_page()
    sign_in(staff_page, live_url, cast["staff"].email)
    staff_page.goto(f"{live_url}/referrals/{sent.pk}/")  # opening it marks it seen
    wait_for_live(staff_page)
    sign_in(referrer_page, live_url, cast["referrer"].email)
    referrer_page.goto(f"{live_url}/referrals/{sent.pk}/")
    expect(_status(referrer_page)).to_have_text("Seen")
    wait_for_live(referrer_page)

    # Staff start declining; the referrer starts cancelling.
    staff_page.locator("summary", has_text="Decline").click()
    staff_decline = staff_page.locator("#panel-reject")
    staff_decline.get_by_label("More detail", exact=False).fill("Checking with our intake team")
    referrer_page.locator("summary", has_text="Cancel referral").click()
    referrer_cancel = referrer_page.locator("#panel-cancel")
    referrer_cancel.get_by_label("More detail", exact=False).fill("The family moved to")

    # The referrer writes a message: the staff page updates live, the Decline panel survives.
    referrer_page.get_by_role("textbox", name="Message").fill("Any news?")
    referrer_page.get_by_role("button", name="Send message").click()
    # (the thread comes in the same response as the status section)
    expect(staff_page.get_by_test_id("message")).to_contain_text(["Any news?"])
    expect(staff_decline).to_have_attribute("open", "")
    expect(staff_decline.get_by_label("More detail", exact=False)).to_have_value(
        "Checking with our intake team"
    )

    # Staff accept instead: the referrer's page shows it, the Cancel panel survives.
    staff_page.get_by_role("button", name="Accept", exact=True).click()
    expect(_status(staff_page)).to_have_text("Accepted")
    expect(_status(referrer_page)).to_have_text("Accepted")
    # (the signal brings the status tag at once; the progress line comes with the re-fetch)
    expect(referrer_page.locator('#referral-status [aria-current="step"]')).to_contain_text(
        "Accepted"
    )
    expect(referrer_page.get_by_role("button", name="Confirm: Cancel referral")).to_be_visible()
    expect(referrer_cancel).to_have_attribute("open", "")
    expect(referrer_cancel.get_by_label("More detail", exact=False)).to_have_value(
        "The family moved to"
    )

    # Staff start putting it on hold; the referrer finishes cancelling. Holding is no longer
    # possible, so that panel goes from the staff page.
    wait_for_live(staff_page)
    staff_page.locator("summary", has_text="Put on hold").click()
    staff_page.locator("#panel-hold").get_by_label("More detail", exact=False).fill("Waiting")
    referrer_cancel.get_by_label("More detail", exact=False).press_sequentially(" Worcester")
    referrer_cancel.get_by_label(re.compile(r"^Reason")).select_option("need-met-elsewhere")
    referrer_page.get_by_role("button", name="Confirm: Cancel referral").click()
    expect(_status(referrer_page)).to_have_text("Cancelled")
    expect(_status(staff_page)).to_have_text("Cancelled")
    expect(staff_page.locator("#panel-hold")).to_have_count(0)
    made = Referral.objects.get(pk=sent.pk)
    assert made.status_reason_text == "The family moved to Worcester"


def test_new_consent_fields_show_only_when_recording_a_new_consent(page, live_url, cast):
    consent_for(cast["patient"], cast["food_bank"], cast["referrer"])
    sign_in(page, live_url, cast["referrer"].email)
    page.goto(f"{live_url}/referrals/new/?service={cast['pantry'].pk}&patient={cast['patient'].pk}")
    fields = page.get_by_test_id("new-consent-fields")
    expect(page.get_by_label(re.compile(r"^Use the consent on file"))).to_be_checked()
    expect(fields).to_be_hidden()
    page.get_by_text("Record a new consent below").click()  # USWDS styles the label
    expect(fields).to_be_visible()
    expect(page.get_by_label(re.compile(r"^Consent ends on"))).to_be_visible()
    assert_accessible(page)


def test_a_referral_to_a_service_not_taking_clients_warns_and_sends_once_ticked(
    page, live_url, cast
):
    pantry = cast["pantry"]
    pantry.set_capacity("not_accepting", by=cast["staff"])
    consent_for(cast["patient"], cast["food_bank"], cast["referrer"])
    sign_in(page, live_url, cast["referrer"].email)
    page.goto(f"{live_url}/directory/services/{pantry.hsds_id}/")
    expect(page.locator("#refer").get_by_test_id("capacity-warning")).to_contain_text(
        "This service says it is not accepting new clients right now (updated just now)."
    )
    assert_accessible(page)

    page.get_by_test_id("refer").click()
    page.get_by_role("link", name=re.compile("Rosa")).first.click()
    expect(page.get_by_test_id("capacity-warning")).to_contain_text("Call them first")
    assert_accessible(page)
    page.get_by_label(re.compile(r"^Need this referral addresses")).select_option("food-insecurity")
    page.get_by_role("button", name="Send referral").click()
    tick = page.get_by_role("checkbox", name=re.compile("^I have checked with the service"))
    expect(page.locator("#id_checked_with_service_error")).to_have_text(
        "Call the service first and tick this box, or choose another service."
    )
    assert not Referral.objects.exists()
    assert_accessible(page)

    tick.focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Send referral").click()
    expect(_status(page)).to_have_text("Sent")
    assert Referral.objects.get().service == pantry


def test_a_food_bank_working_in_spanish_and_a_referrer_in_english_each_read_their_own(
    new_page, live_url, cast
):
    """Both sides on one referral, one page in Spanish and one in English: each change shows
    live on both, each in its reader's language; the Spanish pages pass axe with lang="es"."""
    sent = referral(cast["patient"], cast["pantry"], cast["referrer"])
    referrer_page, staff_page = new_page(), new_page()
    sign_in(referrer_page, live_url, cast["referrer"].email)
    referrer_page.goto(f"{live_url}/referrals/{sent.pk}/")
    wait_for_live(referrer_page)

    sign_in(staff_page, live_url, cast["staff"].email)
    staff_page.get_by_label("Language", exact=True).select_option("es")
    staff_page.get_by_role("button", name="Change language").click()
    expect(staff_page.locator("html")).to_have_attribute("lang", "es")
    staff_page.get_by_role("link", name="Bandeja de entrada", exact=True).click()
    expect(staff_page.get_by_role("heading", level=1)).to_have_text(
        "Bandeja de entrada de referidos"
    )
    expect(staff_page.get_by_test_id("tab-new")).to_contain_text("Nuevos")
    expect(staff_page.get_by_test_id("inbox-row")).to_contain_text("Enviado")
    assert_accessible(staff_page)

    staff_page.get_by_role("link", name="Rosa Díaz").click()
    expect(_status(staff_page)).to_have_text("Visto")
    expect(_status(referrer_page)).to_have_text("Seen")
    wait_for_live(staff_page)
    staff_page.get_by_role("button", name="Aceptar", exact=True).click()
    expect(_status(staff_page)).to_have_text("Aceptado")
    expect(_status(referrer_page)).to_have_text("Accepted")
    staff_page.get_by_label(re.compile(r"^Paso actual")).select_option("waitlisted")
    staff_page.get_by_role("button", name="Actualizar el paso").click()
    expect(staff_page.get_by_test_id("step")).to_contain_text("Paso: En lista de espera")
    expect(referrer_page.get_by_test_id("step")).to_contain_text("Step: Waitlisted")
    expect(staff_page.get_by_test_id("timeline")).to_contain_text("En lista de espera")
    for english in ("Status", "Accepted", "Timeline", "Warm handoff", "Waitlisted"):
        expect(staff_page.locator("main")).not_to_contain_text(english)
    # The notifications pushed to the referrer's page are in the referrer's language.
    expect(referrer_page.get_by_test_id("nav-unread")).to_contain_text("unread")
    expect(staff_page.locator("html")).to_have_attribute("lang", "es")
    assert_accessible(staff_page)
