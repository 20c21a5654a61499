from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from referrals.business_days import add_business_days
from referrals.transitions import (
    RESUME_TARGET,
    TRANSITIONS,
    Side,
    Status,
    TransitionError,
    allowed,
    check,
)

# The DESIGN.md diagram, written out: (transition, from) pairs that are allowed.
ALLOWED = {
    ("send", Status.DRAFT),
    *{
        ("cancel", s)
        for s in [
            Status.DRAFT,
            Status.REQUESTED,
            Status.RECEIVED,
            Status.ACCEPTED,
            Status.IN_PROGRESS,
            Status.ON_HOLD,
        ]
    },
    ("receive", Status.REQUESTED),
    ("accept", Status.REQUESTED),
    ("accept", Status.RECEIVED),
    ("reject", Status.REQUESTED),
    ("reject", Status.RECEIVED),
    ("start", Status.ACCEPTED),
    ("hold", Status.ACCEPTED),
    ("hold", Status.IN_PROGRESS),
    ("resume", Status.ON_HOLD),
    ("complete", Status.IN_PROGRESS),
    ("fail", Status.IN_PROGRESS),
}
REFERRING_ONLY = {"send", "cancel"}


@pytest.mark.parametrize(
    ("name", "status", "side"), list(itertools.product(TRANSITIONS, Status.values, Side.values))
)
def test_every_transition_from_every_status_for_each_side(name, status, side):
    expected_side = Side.REFERRING if name in REFERRING_ONLY else Side.RECEIVING
    if (name, status) in ALLOWED and side == expected_side:
        assert check(name, status, side).name == name
    else:
        with pytest.raises(TransitionError):
            check(name, status, side)


def test_terminal_statuses_allow_nothing():
    for status in [Status.COMPLETED, Status.REJECTED, Status.CANCELLED, Status.FAILED]:
        assert allowed(status, Side.REFERRING) == []
        assert allowed(status, Side.RECEIVING) == []


def test_reasons_and_outcome_are_required_where_fhir_expects_them():
    assert {n for n, t in TRANSITIONS.items() if t.needs_reason} == {
        "cancel",
        "reject",
        "hold",
        "fail",
    }
    assert {n for n, t in TRANSITIONS.items() if t.needs_outcome} == {"complete"}
    assert TRANSITIONS["resume"].target == RESUME_TARGET


def test_unknown_transition_is_refused_with_a_message():
    with pytest.raises(TransitionError, match="not something a referral can do"):
        check("teleport", Status.DRAFT, Side.REFERRING)


NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("sent", "days", "due"),
    [
        (
            datetime(2026, 11, 20, 15, 0, tzinfo=NY),
            1,
            datetime(2026, 11, 23, 15, 0, tzinfo=NY),
        ),  # Fri → Mon
        (
            datetime(2026, 11, 20, 15, 0, tzinfo=NY),
            2,
            datetime(2026, 11, 24, 15, 0, tzinfo=NY),
        ),  # Fri → Tue
        (
            datetime(2026, 11, 18, 9, 0, tzinfo=NY),
            2,
            datetime(2026, 11, 20, 9, 0, tzinfo=NY),
        ),  # Wed → Fri
        (
            datetime(2026, 11, 21, 10, 0, tzinfo=NY),
            1,
            datetime(2026, 11, 24, 0, 0, tzinfo=NY),
        ),  # Sat → Tue 00:00
        (datetime(2026, 11, 19, 12, 0, tzinfo=NY), 0, datetime(2026, 11, 19, 12, 0, tzinfo=NY)),
    ],
)
def test_due_dates_count_business_days_across_weekends(settings, sent, days, due):
    settings.TIME_ZONE = "America/New_York"
    assert add_business_days(sent, days) == due
