"""Two people press Accept at the same moment: one wins, the other gets a clear message."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from referrals.models import Referral
from referrals.transitions import Status, TransitionError
from tests.factories import PatientFactory, directory_service, member, referral

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_accept_has_exactly_one_winner(clinic, food_bank, round_):
    from accounts.models import Role

    referrer = member(clinic, Role.REFERRER)
    first, second = member(food_bank, Role.CBO_STAFF), member(food_bank, Role.CBO_STAFF)
    service = directory_service(organization=food_bank)  # no terms: a flushed DB has no taxonomy
    sent = referral(PatientFactory(organization=clinic), service, referrer)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def press_accept(name, user):
        try:
            mine = Referral.objects.get(pk=sent.pk)
            barrier.wait(timeout=10)
            mine.apply("accept", by=user, organization=food_bank)
            outcomes[name] = "won"
        except TransitionError as error:
            outcomes[name] = str(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=press_accept, args=("first", first)),
        threading.Thread(target=press_accept, args=("second", second)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes.values()).count("won") == 1, outcomes
    loser = next(v for v in outcomes.values() if v != "won")
    assert "Accepted" in loser  # "This referral is now “Accepted”, so it cannot …"
    sent.refresh_from_db()
    assert sent.status == Status.ACCEPTED
    assert sent.events.filter(to_status=Status.ACCEPTED).count() == 1
    assert sent.version == 3  # draft→requested, requested→accepted; nothing half-applied


def test_runs_on_the_configured_database():
    # On CI this file runs twice: on PostgreSQL (row locks) and on SQLite (IMMEDIATE
    # transactions serialise writers). Both must give one winner.
    assert connection.vendor in ("postgresql", "sqlite")
