"""Live updates for referral changes reach the two organizations' open pages and no one else."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.utils import translation

from tests.factories import PatientFactory, directory_service, referral
from tests.test_live import communicator

pytestmark = pytest.mark.django_db(transaction=True)


def run(users, change):
    """Connect a socket per user, make ``change`` (sync), return what each socket received."""
    sockets = {name: communicator(user) for name, user in users.items()}  # sessions: sync
    return _collect(sockets, change)


@async_to_sync
async def _collect(sockets, change):
    for sock in sockets.values():
        connected, _ = await sock.connect()
        assert connected
    await database_sync_to_async(change)()
    received = {}
    for name, sock in sockets.items():
        frames = []
        while not await sock.receive_nothing(timeout=0.3):
            frames.append(await sock.receive_from())
        received[name] = frames
        await sock.disconnect()
    return received


@pytest.fixture
def live_sent(clinic, food_bank, referrer):
    service = directory_service(organization=food_bank)  # flushed DB: no taxonomy needed
    return referral(PatientFactory(organization=clinic), service, referrer)


def test_accept_reaches_both_sides_and_never_another_organization(
    live_sent, referrer, staff, stranger, food_bank
):
    received = run(
        {"referrer": referrer, "staff": staff, "stranger": stranger},
        lambda: live_sent.apply("accept", by=staff, organization=food_bank),
    )
    signal = f'data-referral="{live_sent.pk}"'
    assert any(signal in frame for frame in received["referrer"])
    assert any(signal in frame for frame in received["staff"])
    # the signal carries the new status tag, rendered once per interface language, so an
    # open page shows "Accepted" before it re-fetches the rest
    (frame,) = [f for f in received["referrer"] if signal in f]
    for lang, label in (("en", "Accepted"), ("es", "Aceptado")):
        assert (
            f'<template data-lang="{lang}"><span class="usa-tag handoff-status '
            f'handoff-status--accepted" data-testid="status">{label}</span></template>'
        ) in frame
    assert received["stranger"] == []
    # the referrer's notification badge is pushed to them alone
    assert any('id="nav-unread"' in frame for frame in received["referrer"])
    assert not any('id="nav-unread"' in frame for frame in received["staff"])


def test_the_unread_count_is_pushed_in_the_readers_language_not_the_actors(
    live_sent, referrer, staff, food_bank
):
    """The food bank works in Spanish; the referrer, who prefers English, hears in English."""

    def accept_in_spanish():
        with translation.override("es"):
            live_sent.apply("accept", by=staff, organization=food_bank)

    received = run({"referrer": referrer}, accept_in_spanish)

    (badge,) = [f for f in received["referrer"] if 'id="nav-unread"' in f]
    assert '<span class="usa-sr-only"> unread</span>' in badge

    referrer.preferred_language = "es"
    referrer.save(update_fields=["preferred_language"])
    received = run(
        {"referrer": referrer},
        lambda: live_sent.apply("start", by=staff, organization=food_bank),
    )
    (badge,) = [f for f in received["referrer"] if 'id="nav-unread"' in f]
    assert '<span class="usa-sr-only"> sin leer</span>' in badge


def test_a_draft_is_private_to_the_referring_organization(
    clinic, food_bank, referrer, staff, stranger
):
    service = directory_service(organization=food_bank)
    patient = PatientFactory(organization=clinic)

    def save_draft_and_message():
        draft = referral(patient, service, referrer, send=False)
        draft.apply("cancel", by=referrer, organization=clinic, reason="sent-in-error")

    received = run(
        {"referrer": referrer, "staff": staff, "stranger": stranger}, save_draft_and_message
    )
    assert received["referrer"]
    assert received["staff"] == []
    assert received["stranger"] == []


def test_messages_are_pushed_live_to_the_other_side(live_sent, referrer, staff, stranger, clinic):
    received = run(
        {"staff": staff, "stranger": stranger},
        lambda: live_sent.post_message(by=referrer, organization=clinic, body="Hello"),
    )
    assert any(f'data-referral="{live_sent.pk}"' in f for f in received["staff"])
    assert received["stranger"] == []
    # the socket carries no content, only "referral N changed" and its status tag: pages
    # re-fetch the rest through their views
    assert not any("Hello" in f for f in received["staff"])
