"""Reading helpers for referral pages: unread counts, views by the other side, page context."""

from __future__ import annotations

from django.db.models import Count, F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language

from accounts.models import AuditEvent
from directory.languages import language_name
from directory.taxonomy import NEED_NAMES
from referrals.forms import MessageForm, OutcomeForm, ReasonForm, StepForm
from referrals.models import Message, Outcome, ReadMark, Referral, ReferralEvent
from referrals.transitions import Side, Status, allowed

# The progress line shown on every referral: the happy path, in order.
PROGRESS = [
    Status.REQUESTED,
    Status.RECEIVED,
    Status.ACCEPTED,
    Status.IN_PROGRESS,
    Status.COMPLETED,
]


def need_names() -> dict[str, str]:
    return {code: str(name) for code, name in NEED_NAMES.items()}


def mark_read(referral: Referral, user) -> None:
    """Move the user's read mark to now: one upsert (INSERT .. ON CONFLICT DO UPDATE), which
    also holds when the same person has the referral open in two tabs at once."""
    ReadMark.objects.bulk_create(
        [ReadMark(referral=referral, user=user, read_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["referral", "user"],
        update_fields=["read_at"],
    )


def unread_counts(user, organization, referrals: list[Referral]) -> dict[int, int]:
    """Messages from the other side newer than the user's read mark, per referral, in one query."""
    if not referrals:
        return {}
    read_at = ReadMark.objects.filter(referral=OuterRef("referral"), user=user).values("read_at")[
        :1
    ]
    rows = (
        Message.objects.filter(referral__in=[r.pk for r in referrals])
        .exclude(author_organization=organization)
        .annotate(read_at=Subquery(read_at))
        .filter(Q(read_at__isnull=True) | Q(created_at__gt=F("read_at")))
        .values("referral")
        .annotate(n=Count("pk"))
    )
    return {row["referral"]: row["n"] for row in rows}


def record_view(referral: Referral, user, organization) -> None:
    """A view by someone outside the patient's organization goes on the timeline and the audit log."""
    if organization.pk == referral.patient.organization_id:
        return
    AuditEvent.record(
        organization=referral.patient.organization_id,
        actor=user,
        actor_organization=organization,
        action=AuditEvent.Action.VIEW_REFERRAL,
        obj=referral,
        detail=f"patient {referral.patient_id}",
    )
    # One "seen" line per person per day is enough for the timeline.
    today = timezone.localdate()
    already = ReferralEvent.objects.filter(
        referral=referral, kind=ReferralEvent.Kind.VIEWED, actor=user, created_at__date=today
    ).exists()
    if not already:
        ReferralEvent.objects.create(
            referral=referral,
            kind=ReferralEvent.Kind.VIEWED,
            actor=user,
            actor_organization=organization,
        )


def progress_steps(referral: Referral) -> list[dict]:
    reached = set(
        referral.events.filter(kind=ReferralEvent.Kind.STATUS).values_list("to_status", flat=True)
    )
    reached.add(referral.status)
    current = referral.status
    steps = []
    for status in PROGRESS:
        steps.append(
            {
                "label": Status(status).label,
                "state": "current"
                if status == current
                else ("complete" if status in reached else "incomplete"),
            }
        )
    return steps


def shared_with_receiver(referral: Referral) -> dict | None:
    """What the receiving side may see now: nothing once consent is withdrawn or expired."""
    consent = referral.consent
    if consent is None or not consent.is_active():
        return None
    return referral.shared


def shared_for_display(shared: dict | None) -> dict | None:
    """A sharing snapshot with its codes named in the reader's language.

    The snapshot holds codes so that each reader sees the language of their own interface,
    not the sender's. Snapshots from before this still hold some names (needs, labels);
    the names here replace them.
    """
    from patients.models import Patient
    from screening.sharing import answer_lines

    if not shared:
        return shared
    shown = dict(shared)
    shown["language_label"] = language_name(shared.get("language", ""))
    if "contact" in shared:
        methods = dict(Patient.ContactMethod.choices)
        method = shared["contact"].get("method", "")
        shown["contact"] = {**shared["contact"], "method_label": str(methods.get(method, method))}
    if "needs" in shared:
        shown["needs"] = sorted(str(NEED_NAMES.get(need, need)) for need in shared["needs"])
    shown["answers"] = []
    if "screening" in shared:
        shown["answers"] = answer_lines(shared["screening"], get_language() or "en")
    return shown


TIMELINE_LIMIT = 20


def detail_context(
    referral: Referral, side: str | None, user, *, full_timeline=False, bound: dict | None = None
) -> dict:
    """Everything the referral page shows. The timeline shows its latest TIMELINE_LIMIT
    lines unless ``full_timeline``; messages are in the thread, not the timeline.

    ``bound`` holds forms sent back with errors, by transition name, "step" or "message":
    they are shown as they were filled in, their panel open.
    """
    bound = bound or {}
    actions = allowed(referral.status, side)
    panels = []
    for transition in actions:
        form = bound.get(transition.name)
        if form is None and transition.needs_reason:
            form = ReasonForm(transition=transition.name)
        elif form is None and transition.needs_outcome:
            form = OutcomeForm(initial={"outcome_date": timezone.localdate()})
        panels.append({"transition": transition, "form": form})
    timeline = referral.events.exclude(kind=ReferralEvent.Kind.MESSAGE).select_related(
        "actor", "actor_organization"
    )
    if full_timeline:
        events = list(timeline.order_by("created_at", "pk"))
        earlier = 0
    else:
        latest = list(timeline.order_by("-created_at", "-pk")[: TIMELINE_LIMIT + 1])
        earlier = timeline.count() - TIMELINE_LIMIT if len(latest) > TIMELINE_LIMIT else 0
        events = latest[:TIMELINE_LIMIT][::-1]
    thread = list(
        referral.messages.select_related("author", "author_organization").order_by(
            "created_at", "pk"
        )
    )
    return {
        "referral": referral,
        "side": side,
        "is_referring": side == Side.REFERRING,
        "is_receiving": side == Side.RECEIVING,
        "actions": actions,
        "action_panels": panels,
        "events": events,
        "earlier_events": earlier,
        "thread": thread,
        "progress": progress_steps(referral),
        "shared": shared_for_display(
            referral.shared if side == Side.REFERRING else shared_with_receiver(referral)
        ),
        "need_name": NEED_NAMES.get(referral.need_category, referral.need_category),
        "step_form": bound.get("step")
        or StepForm(
            initial={"step": referral.business_status or None, "intake_at": referral.intake_at}
        ),
        "message_form": bound.get("message") or MessageForm(),
        "is_overdue": referral.is_overdue(),
        "can_set_step": side == Side.RECEIVING
        and referral.status in (Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD),
        "now": timezone.now(),
        "reroute_url": reverse("referrals:reroute", args=[referral.pk])
        if side == Side.REFERRING and referral.can_be_rerouted()
        else "",
        "rerouted_to": Referral.objects.filter(rerouted_from=referral).only("pk", "service").first()
        if side == Side.REFERRING
        else None,
        "finish_url": reverse("referrals:new") + f"?draft={referral.pk}"
        if side == Side.REFERRING and referral.status == Status.DRAFT
        else "",
        "needs_to_resolve": needs_to_resolve(referral) if side == Side.REFERRING else [],
    }


def needs_to_resolve(referral: Referral) -> list:
    """The person's needs this referral was for that are still active, once the service says
    it met the need: the referrer decides whether they are resolved (one pantry visit may not
    end food insecurity), so the referral page asks rather than resolving them itself."""
    if referral.status != Status.COMPLETED or referral.outcome != Outcome.MET:
        return []
    return list(referral.needs.active())
