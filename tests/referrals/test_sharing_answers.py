"""Screening answers a referral shares: only those about its need, never safety, in the
questionnaire's order, in each reader's language, fixed when sent."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from referrals.models import Referral
from screening.instrument import get_instrument
from tests.factories import ScreeningFactory, answer_all, consent_for, referral

pytestmark = pytest.mark.django_db

AHC = get_instrument("ahc-hrsn-core")
SAFETY = ("95618-5", "95617-7", "95616-9", "95615-1")
FREQUENTLY = "LA6482-9"
# Every domain positive, safety included (all four HITS answers "Frequently": 20 points).
POSITIVE = {
    "71802-3": "LA31994-9",
    "96778-6": ["LA28580-1"],
    "96779-4": "LA33-6",
    "88122-7": "LA6729-3",
    "88123-5": "LA28397-0",
    "93030-5": "LA33-6",
    **dict.fromkeys(SAFETY, FREQUENTLY),
}


def screened(patient, by, answers=POSITIVE, language="en"):
    screening = ScreeningFactory(patient=patient, started_by=by, language=language)
    answer_all(screening, answers)
    screening.complete(by=by)
    return screening


def sharing(patient, service, referrer, need, **fields):
    consent = consent_for(patient, service.organization, referrer, share_screening=True)
    return referral(patient, service, referrer, consent=consent, need_category=need, **fields)


def page(client, user, made, language="en"):
    client.force_login(user)
    client.cookies["django_language"] = language
    return client.get(reverse("referrals:detail", args=[made.pk])).content.decode()


def text(code, language="en"):
    return AHC.question(code).text_in(language)


def shown(code, language="en"):
    """The question as it appears in a page's HTML."""
    return escape(text(code, language))


def test_an_unrelated_need_shares_only_its_own_answers_and_none_about_safety(
    client, patient, service, referrer, staff
):
    screened(patient, referrer)
    made = sharing(patient, service, referrer, "transportation-insecurity")
    assert [row["question"] for row in made.shared["screening"]["rows"]] == ["93030-5"]
    html = page(client, staff, made)
    assert shown("93030-5") in html
    for code in (*SAFETY, "88122-7", "71802-3"):
        assert shown(code) not in html


def test_safety_answers_are_not_shared_even_for_a_safety_referral(
    client, patient, service, referrer, staff
):
    screened(patient, referrer)
    made = sharing(patient, service, referrer, "intimate-partner-violence")
    assert "screening" not in made.shared
    html = page(client, staff, made)
    for code in SAFETY:
        assert shown(code) not in html


def test_answers_are_shown_in_the_questionnaire_order(client, patient, service, referrer, staff):
    # Answered in the other order: the second food question first.
    screened(patient, referrer, {"88123-5": "LA28397-0", **POSITIVE})
    made = sharing(patient, service, referrer, "food-insecurity")
    html = page(client, staff, made)
    first, second = html.find(shown("88122-7")), html.find(shown("88123-5"))
    assert 0 < first < second


def test_each_reader_sees_the_answers_and_language_in_their_own_language(
    client, patient, service, referrer, staff
):
    screened(patient, referrer, language="es")
    with translation.override("es"):  # sent from a Spanish interface, to a Spanish speaker
        made = sharing(patient, service, referrer, "transportation-insecurity", language="es")
    receiving = page(client, staff, made, "en")
    assert shown("93030-5", "en") in receiving
    assert shown("93030-5", "es") not in receiving
    assert "<dd>Spanish" in receiving
    assert "<dd>Español" not in receiving  # (the footer names Español in its own language)
    referring = page(client, referrer, made, "es")
    assert shown("93030-5", "es") in referring


def test_a_later_screening_does_not_change_what_a_sent_referral_shows(
    client, patient, service, referrer, staff
):
    screened(patient, referrer)
    made = sharing(patient, service, referrer, "transportation-insecurity")
    yes = AHC.question("93030-5").answer("LA33-6").text_in("en")
    assert f"<strong>{yes}</strong>" in page(client, staff, made)
    screened(patient, referrer, {**POSITIVE, "93030-5": "declined"})
    made.refresh_from_db()
    assert made.shared["screening"]["rows"][0]["codes"] == ["LA33-6"]
    assert f"<strong>{yes}</strong>" in page(client, staff, made)


def test_answers_sent_as_text_before_keep_only_what_would_be_shared_now(patient, service, referrer):
    made = referral(patient, service, referrer, need_category="food-insecurity")
    legacy = [
        {"question": text(code, "es"), "answer": AHC.question(code).answers[-1].text_in("es")}
        for code in ("88123-5", *SAFETY, "93030-5", "88122-7")
    ]
    legacy.append({"question": "A question no instrument has", "answer": "Yes"})
    Referral.objects.filter(pk=made.pk).update(shared={**made.shared, "answers": legacy})
    migration = importlib.import_module("referrals.migrations.0005_shared_answers_as_codes")
    migration.answers_as_codes(django_apps, None)
    made.refresh_from_db()
    assert "answers" not in made.shared
    rows = made.shared["screening"]["rows"]
    assert [row["question"] for row in rows] == ["88122-7", "88123-5"]
    assert rows[0] == {"question": "88122-7", "status": "answered", "codes": ["LA28398-8"]}


def test_old_text_lines_about_safety_alone_leave_nothing():
    from_legacy_lines = importlib.import_module(
        "referrals.migrations.0005_shared_answers_as_codes"
    ).from_legacy_lines
    lines = [{"question": text(code), "answer": "Frequently"} for code in SAFETY]
    assert from_legacy_lines(lines, "intimate-partner-violence") is None
