"""The referral status machine, in one table.

Statuses are FHIR R4 Task.status values (SDOHCC-TaskForReferralManagement). Each transition
names the side that may make it: the referring organization (the Task's requester) or the
receiving organization (the Task's owner), as in the SDOH Clinical Care guide.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Status(models.TextChoices):
    # In context: Spanish names a referral's status in the masculine ("Completado"), where a
    # screening's "Completed" is "Completada".
    DRAFT = "draft", pgettext_lazy("referral status", "Draft")
    REQUESTED = "requested", pgettext_lazy("referral status", "Sent")
    RECEIVED = "received", pgettext_lazy("referral status", "Seen")
    ACCEPTED = "accepted", pgettext_lazy("referral status", "Accepted")
    IN_PROGRESS = "in-progress", pgettext_lazy("referral status", "In progress")
    ON_HOLD = "on-hold", pgettext_lazy("referral status", "On hold")
    COMPLETED = "completed", pgettext_lazy("referral status", "Completed")
    REJECTED = "rejected", pgettext_lazy("referral status", "Declined")
    CANCELLED = "cancelled", pgettext_lazy("referral status", "Cancelled")
    FAILED = "failed", pgettext_lazy("referral status", "Could not be completed")


class Side(models.TextChoices):
    REFERRING = "referring", _("referring organization")
    RECEIVING = "receiving", _("receiving organization")


TERMINAL = frozenset({Status.COMPLETED, Status.REJECTED, Status.CANCELLED, Status.FAILED})
OPEN = frozenset(
    {Status.REQUESTED, Status.RECEIVED, Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD}
)
# Not yet acknowledged by the receiving side: these can become overdue.
AWAITING_RESPONSE = frozenset({Status.REQUESTED, Status.RECEIVED})


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str  # for "resume", the status the referral was in before it was put on hold
    side: str
    label: str
    needs_reason: bool = False
    needs_outcome: bool = False


RESUME_TARGET = "<previous>"

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        Transition(
            "send", frozenset({Status.DRAFT}), Status.REQUESTED, Side.REFERRING, _("Send referral")
        ),
        Transition(
            "cancel",
            frozenset({Status.DRAFT, *OPEN}),
            Status.CANCELLED,
            Side.REFERRING,
            _("Cancel referral"),
            needs_reason=True,
        ),
        Transition(
            "receive",
            frozenset({Status.REQUESTED}),
            Status.RECEIVED,
            Side.RECEIVING,
            _("Mark as seen"),
        ),
        Transition(
            "accept",
            frozenset({Status.REQUESTED, Status.RECEIVED}),
            Status.ACCEPTED,
            Side.RECEIVING,
            _("Accept"),
        ),
        Transition(
            "reject",
            frozenset({Status.REQUESTED, Status.RECEIVED}),
            Status.REJECTED,
            Side.RECEIVING,
            _("Decline"),
            needs_reason=True,
        ),
        Transition(
            "start",
            frozenset({Status.ACCEPTED}),
            Status.IN_PROGRESS,
            Side.RECEIVING,
            _("Start work"),
        ),
        Transition(
            "hold",
            frozenset({Status.ACCEPTED, Status.IN_PROGRESS}),
            Status.ON_HOLD,
            Side.RECEIVING,
            _("Put on hold"),
            needs_reason=True,
        ),
        Transition(
            "resume", frozenset({Status.ON_HOLD}), RESUME_TARGET, Side.RECEIVING, _("Resume")
        ),
        Transition(
            "complete",
            frozenset({Status.IN_PROGRESS}),
            Status.COMPLETED,
            Side.RECEIVING,
            _("Complete"),
            needs_outcome=True,
        ),
        Transition(
            "fail",
            frozenset({Status.IN_PROGRESS}),
            Status.FAILED,
            Side.RECEIVING,
            _("Could not complete"),
            needs_reason=True,
        ),
    ]
}


class TransitionError(Exception):
    """A transition that is not allowed now; the message is safe to show to the person."""


def check(name: str, status: str, side: str | None) -> Transition:
    """The transition ``name`` if ``side`` may make it from ``status``; TransitionError if not."""
    transition = TRANSITIONS.get(name)
    if transition is None:
        raise TransitionError(_("That is not something a referral can do."))
    if side != transition.side:
        raise TransitionError(
            _("Only the %(side)s can do this.") % {"side": Side(transition.side).label}
        )
    if status not in transition.sources:
        raise TransitionError(
            _("This referral is now “%(status)s”, so it cannot be changed that way.")
            % {"status": Status(status).label}
        )
    return transition


def allowed(status: str, side: str | None) -> list[Transition]:
    """Transitions ``side`` may make from ``status`` (for showing buttons)."""
    return [t for t in TRANSITIONS.values() if t.side == side and status in t.sources]
