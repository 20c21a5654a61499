from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from referrals.business_days import add_business_days
from referrals.transitions import (
    AWAITING_RESPONSE,
    OPEN,
    RESUME_TARGET,
    TERMINAL,
    Side,
    Status,
    TransitionError,
    check,
)

if TYPE_CHECKING:
    from accounts.models import User
    from directory.models import Organization


class Priority(models.TextChoices):
    """FHIR Task.priority, most urgent first (FHIR ranks them stat > asap > urgent > routine)."""

    STAT = "stat", _("Emergency (today)")
    ASAP = "asap", _("As soon as possible")
    URGENT = "urgent", _("Urgent (needs help within a day)")
    ROUTINE = "routine", _("Routine")


# How soon a response is needed, whatever the service promises. Clock hours, not business
# days: a person who needs help within a day needs it on a Saturday too, and a referral nobody
# answers in time is flagged overdue so the referrer can send it elsewhere.
RESPONSE_WINDOW = {
    Priority.STAT: timedelta(hours=4),
    Priority.ASAP: timedelta(hours=12),
    Priority.URGENT: timedelta(days=1),
}


def response_due(sent_at: datetime, response_time_days: int, priority: str) -> datetime:
    """The earlier of the service's promise (in business days) and the urgency's window."""
    promised = add_business_days(sent_at, response_time_days)
    window = RESPONSE_WINDOW.get(priority)
    return promised if window is None else min(promised, sent_at + window)


class BusinessStatus(models.TextChoices):
    """Task.businessStatus: the finer step the receiving side reports."""

    NONE = "", _("—")
    TRYING_TO_REACH = "trying-to-reach", _("Trying to reach the person")
    WAITLISTED = "waitlisted", _("Waitlisted")
    INTAKE_BOOKED = "intake-booked", _("Intake appointment booked")
    RECEIVING_SERVICES = "receiving-services", _("Receiving services")


class ReasonCode(models.TextChoices):
    """Coded reasons for rejected / cancelled / failed / on-hold (Task.statusReason)."""

    NOT_ELIGIBLE = "not-eligible", _("Not eligible for this service")
    NO_CAPACITY = "no-capacity", _("No capacity right now")
    OUT_OF_AREA = "out-of-area", _("Outside our service area")
    UNABLE_TO_CONTACT = "unable-to-contact", _("Could not reach the person")
    DECLINED_BY_PATIENT = "declined-by-patient", _("The person no longer wants this service")
    NEED_MET_ELSEWHERE = "need-met-elsewhere", _("Need met elsewhere")
    CONSENT_WITHDRAWN = "consent-withdrawn", _("Consent withdrawn")
    SENT_IN_ERROR = "sent-in-error", _("Sent in error")
    NO_RESPONSE = "no-response", _("No response in time")
    WAITING = "waiting", _("Waiting on the person or another service")
    OTHER = "other", _("Other")


# The reasons offered for each transition that needs one, in the order shown. All are
# ReasonCode values, so Task.statusReason keeps one code system whatever the transition.
REASONS_FOR: dict[str, tuple[ReasonCode, ...]] = {
    "reject": (
        ReasonCode.NOT_ELIGIBLE,
        ReasonCode.NO_CAPACITY,
        ReasonCode.OUT_OF_AREA,
        ReasonCode.UNABLE_TO_CONTACT,
        ReasonCode.DECLINED_BY_PATIENT,
        ReasonCode.NEED_MET_ELSEWHERE,
        ReasonCode.SENT_IN_ERROR,
        ReasonCode.OTHER,
    ),
    "cancel": (
        ReasonCode.NEED_MET_ELSEWHERE,
        ReasonCode.DECLINED_BY_PATIENT,
        ReasonCode.UNABLE_TO_CONTACT,
        ReasonCode.NOT_ELIGIBLE,
        ReasonCode.NO_RESPONSE,
        ReasonCode.SENT_IN_ERROR,
        ReasonCode.OTHER,
    ),
    "hold": (
        ReasonCode.WAITING,
        ReasonCode.UNABLE_TO_CONTACT,
        ReasonCode.NO_CAPACITY,
        ReasonCode.OTHER,
    ),
    "fail": (
        ReasonCode.UNABLE_TO_CONTACT,
        ReasonCode.DECLINED_BY_PATIENT,
        ReasonCode.NOT_ELIGIBLE,
        ReasonCode.OUT_OF_AREA,
        ReasonCode.NO_CAPACITY,
        ReasonCode.NEED_MET_ELSEWHERE,
        ReasonCode.OTHER,
    ),
}


def reason_fits(transition: str, reason: str) -> bool:
    """Whether ``reason`` may be given for ``transition``.

    "Consent withdrawn" is not offered: withdrawing the consent itself cancels the referral
    with it and also hides the shared details, which picking the reason would not do.
    """
    if transition == "cancel" and reason == ReasonCode.CONSENT_WITHDRAWN:
        return True
    return reason in REASONS_FOR.get(transition, ())


class Outcome(models.TextChoices):
    MET = "met", _("Need met")
    PARTLY_MET = "partly-met", _("Need partly met")
    NOT_MET = "not-met", _("Need not met")


def _choice_label(choices: type[models.TextChoices], value: str) -> str:
    """The label of ``value`` in the active language, or ``value`` itself if not a choice."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value


class ReferralQuerySet(models.QuerySet["Referral"]):
    def for_user(self, user: User) -> ReferralQuerySet:
        """Referrals the user's organizations sent or received.

        The receiving side never sees drafts: a referral reaches them only once it is sent.
        """
        if not user.is_authenticated:
            return self.none()
        from accounts.models import Membership

        org_ids = Membership.objects.filter(user=user, user__is_active=True).values(
            "organization_id"
        )
        return self.filter(
            Q(referring_organization_id__in=org_ids)
            | (Q(receiving_organization_id__in=org_ids) & ~Q(status=Status.DRAFT))
        )

    def sent_by(self, organization: Organization) -> ReferralQuerySet:
        return self.filter(referring_organization=organization)

    def received_by(self, organization: Organization) -> ReferralQuerySet:
        return self.filter(receiving_organization=organization).exclude(status=Status.DRAFT)

    def open(self) -> ReferralQuerySet:
        return self.filter(status__in=OPEN)

    def closed(self) -> ReferralQuerySet:
        return self.filter(status__in=TERMINAL)

    def overdue(self, now=None) -> ReferralQuerySet:
        return self.filter(status__in=AWAITING_RESPONSE, due_at__lt=now or timezone.now())

    def status_counts(self, now=None) -> dict[str, tuple[int, int]]:
        """``{status: (referrals, how many of them are past their due date)}``, one query."""
        rows = (
            self.order_by()
            .values_list("status")
            .annotate(n=Count("pk"), late=Count("pk", filter=Q(due_at__lt=now or timezone.now())))
        )
        return {status: (n, late) for status, n, late in rows}


class Referral(models.Model):
    """A request for a community service for a patient: a FHIR ServiceRequest and its Task."""

    # The portal's own identifier, sent to EHRs so re-sending never makes a second copy.
    identifier = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="referrals"
    )
    need_category = models.CharField(
        _("need (SDOH category)"), max_length=64, help_text=_("An SDOH category code.")
    )
    needs = models.ManyToManyField("screening.Need", blank=True, related_name="referrals")
    referring_organization = models.ForeignKey(
        "directory.Organization", on_delete=models.PROTECT, related_name="referrals_sent"
    )
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referrals_made"
    )
    service = models.ForeignKey(
        "directory.Service", on_delete=models.PROTECT, related_name="referrals"
    )
    # Copied from the service so inbox queries filter on one indexed column.
    receiving_organization = models.ForeignKey(
        "directory.Organization", on_delete=models.PROTECT, related_name="referrals_received"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    business_status = models.CharField(
        _("step"), max_length=32, choices=BusinessStatus.choices, blank=True, default=""
    )
    intake_at = models.DateTimeField(_("intake appointment"), null=True, blank=True)
    priority = models.CharField(
        _("urgency"), max_length=8, choices=Priority.choices, default=Priority.ROUTINE
    )
    # The warm handoff.
    note = models.TextField(_("note for the receiving organization"), blank=True)
    contact_method = models.CharField(_("how to reach the person"), max_length=32, blank=True)
    contact_times = models.CharField(_("best times to reach them"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    interpreter_needed = models.BooleanField(_("needs an interpreter"), default=False)
    do_not_contact = models.BooleanField(
        _("do not contact the person directly"),
        default=False,
        help_text=_(
            "For example when contact could put them at risk. FHIR: contacting-subject-prohibited."
        ),
    )
    shared = models.JSONField(
        _("what was shared"),
        default=dict,
        blank=True,
        help_text=_("A snapshot, taken when sent, of what the consent allowed to share."),
    )
    consent = models.ForeignKey(
        "patients.Consent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals",
    )
    due_at = models.DateTimeField(_("response due"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated as overdue"), null=True, blank=True)
    held_from = models.CharField(max_length=16, choices=Status.choices, blank=True)
    status_reason = models.CharField(
        _("reason"), max_length=32, choices=ReasonCode.choices, blank=True
    )
    status_reason_text = models.TextField(_("reason, in words"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True)
    outcome_provided = models.TextField(_("what was provided"), blank=True)
    outcome_date = models.DateField(_("date of service"), null=True, blank=True)
    rerouted_from = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="rerouted_to"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Bumped on every change; FHIR sync applies changes in this order, never older over newer.
    version = models.PositiveIntegerField(default=1)

    objects = ReferralQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            # The receiving inbox: WHERE receiving_organization = ? AND status IN (…) ORDER BY updated_at
            models.Index(
                fields=["receiving_organization", "status", "-updated_at"], name="referral_inbox"
            ),
            # Tabs spanning several statuses (closed, in progress), newest first: walk this
            # index in order and stop after a page, instead of sorting thousands of rows.
            models.Index(
                fields=["receiving_organization", "-updated_at"], name="referral_inbox_recent"
            ),
            models.Index(
                fields=["referring_organization", "-updated_at"], name="referral_sent_recent"
            ),
            # The referring list: WHERE referring_organization = ? …
            models.Index(
                fields=["referring_organization", "status", "-updated_at"], name="referral_sent"
            ),
            # The overdue sweep: WHERE status IN ('requested','received') AND due_at < now
            models.Index(fields=["status", "due_at"], name="referral_overdue"),
            # The inbox's New and Overdue tabs, soonest due first: walk this in order and stop
            # after a page, instead of joining and sorting every waiting referral.
            models.Index(
                fields=["receiving_organization", "due_at", "-id"],
                condition=Q(status__in=[Status.REQUESTED, Status.RECEIVED]),
                name="referral_inbox_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status__in=["rejected", "cancelled", "failed"]) | ~Q(status_reason=""),
                name="referral_closed_needs_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | ~Q(outcome=""),
                name="referral_completed_needs_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"Referral {self.pk} ({self.get_status_display()})"

    # --- reading
    @property
    def need_label(self) -> str:
        from directory.taxonomy import NEED_NAMES

        return str(NEED_NAMES.get(self.need_category, self.need_category))

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def is_closed(self) -> bool:
        return self.status in TERMINAL

    # The labels every list row shows. Django's generated get_FOO_display() rebuilds a dict of
    # all the field's choices on each call; these look the value up in its enum instead.
    def get_status_display(self) -> str:
        return _choice_label(Status, self.status)

    def get_priority_display(self) -> str:
        return _choice_label(Priority, self.priority)

    def get_business_status_display(self) -> str:
        return _choice_label(BusinessStatus, self.business_status)

    @property
    def awaiting_response(self) -> bool:
        """Sent and not yet answered: the only time its response due date means anything."""
        return self.status in AWAITING_RESPONSE

    def is_overdue(self, now=None) -> bool:
        return bool(
            self.awaiting_response and self.due_at and self.due_at < (now or timezone.now())
        )

    def can_be_rerouted(self, now=None) -> bool:
        """Declined, failed or overdue, and not already sent elsewhere."""
        if not (self.status in (Status.REJECTED, Status.FAILED) or self.is_overdue(now)):
            return False
        return not Referral.objects.filter(rerouted_from=self).exists()

    def side_of(self, user: User, organization: Organization | None) -> str | None:
        """Which side the user acts for, given the organization they are working for now."""
        if organization is None:
            return None
        if organization.pk == self.referring_organization_id:
            return Side.REFERRING
        if organization.pk == self.receiving_organization_id:
            return Side.RECEIVING
        return None

    # --- changing (every change goes through here)
    def apply(
        self,
        name: str,
        *,
        by: User,
        organization: Organization | None,
        reason: str = "",
        reason_text: str = "",
        outcome: str = "",
        outcome_provided: str = "",
        outcome_date=None,
        data: dict | None = None,
        now=None,
    ) -> ReferralEvent:
        """Make transition ``name`` as ``by`` acting for ``organization``.

        ``data`` is kept on the event (the timeline shows what it holds: for a send to a
        service that said it was not accepting, that the sender checked with it first).

        Raises TransitionError (with a message for the person) and changes nothing when the
        transition is not allowed now, for this side, or lacks its reason or outcome.
        """
        from referrals import signals

        now = now or timezone.now()
        with transaction.atomic():
            # Lock the row: of two people pressing Accept at once, the second waits here and
            # then sees the status the first one set, so exactly one wins.
            locked = Referral.objects.select_for_update().get(pk=self.pk)
            self._lend_loaded_relations(locked)
            side = locked.side_of(by, organization)
            transition = check(name, locked.status, side)
            if transition.needs_reason and not reason:
                raise TransitionError(_("Choose a reason."))
            if transition.needs_reason and not reason_fits(name, reason):
                raise TransitionError(_("Choose one of the reasons listed."))
            if transition.needs_outcome:
                if outcome not in Outcome.values:
                    raise TransitionError(_("Choose whether the need was met."))
                if not outcome_provided.strip():
                    raise TransitionError(_("Say what was provided."))
            if name == "send":
                locked._check_consent_for_sending(now)
            previous = locked.status
            target = locked.held_from if transition.target == RESUME_TARGET else transition.target
            locked.status = target
            locked.version += 1
            if transition.needs_reason:
                locked.status_reason = reason
                locked.status_reason_text = reason_text.strip()
            if name == "hold":
                locked.held_from = previous
            elif name == "resume":
                locked.held_from = ""
                locked.status_reason = ""
                locked.status_reason_text = ""
            if name == "send":
                locked.sent_at = now
                locked.due_at = response_due(
                    now, locked.service.response_time_days, locked.priority
                )
                locked.shared = locked.consent.snapshot_for(locked)
            elif name == "receive":
                locked.received_at = now
            elif name == "accept":
                locked.accepted_at = now
                locked.received_at = locked.received_at or now
            elif name == "complete":
                locked.outcome = outcome
                locked.outcome_provided = outcome_provided.strip()
                locked.outcome_date = outcome_date or timezone.localdate(now)
            if target in TERMINAL:
                locked.closed_at = now
            locked.save()
            event = ReferralEvent.objects.create(
                referral=locked,
                kind=ReferralEvent.Kind.STATUS,
                actor=by,
                actor_organization=organization,
                from_status=previous,
                to_status=target,
                reason=locked.status_reason if transition.needs_reason else "",
                text=reason_text.strip() if transition.needs_reason else "",
                data=data or {},
                created_at=now,
            )
            # Receivers write what must be written in this same transaction (the FHIR outbox)
            # and register their after-commit work (live updates, notifications).
            signals.referral_changed.send(sender=Referral, referral=locked, event=event)
        self._take_values_from(locked)
        return event

    def _lend_loaded_relations(self, locked: Referral) -> None:
        """Give the freshly locked row the related objects this one already loaded, where it
        still points at the same rows, so the transition and its receivers (notifications,
        audit, the live signal) do not read the patient, service and organizations again."""
        for field in self._meta.concrete_fields:
            if (
                field.is_relation
                and field.is_cached(self)
                and getattr(self, field.attname) == getattr(locked, field.attname)
            ):
                field.set_cached_value(locked, field.get_cached_value(self))

    def _take_values_from(self, saved: Referral) -> None:
        """Take the row as ``saved`` wrote it, keeping the related objects already loaded.

        (``refresh_from_db`` would read the row again and drop every cached relation, so the
        page shown next would load the patient, service and organizations one by one.)
        """
        for field in self._meta.concrete_fields:
            value = getattr(saved, field.attname)
            changed = getattr(self, field.attname) != value
            if field.is_relation and changed and field.is_cached(self):
                field.delete_cached_value(self)
            setattr(self, field.attname, value)

    def _check_consent_for_sending(self, now) -> None:
        consent = self.consent
        if consent is None or not consent.covers(self.receiving_organization, now):
            raise TransitionError(
                _("Record the person's consent to share with %(org)s before sending.")
                % {"org": self.receiving_organization.name}
            )

    def flag_overdue(self, now=None) -> bool:
        """Record that this referral is overdue and escalate it; False if not (or already done).

        Call with the row locked (the sweep does), so two workers never escalate it twice.
        """
        from referrals import signals

        now = now or timezone.now()
        if not self.is_overdue(now) or self.escalated_at is not None:
            return False
        self.escalated_at = now
        self.save(update_fields=["escalated_at", "updated_at"])
        event = ReferralEvent.objects.create(
            referral=self, kind=ReferralEvent.Kind.OVERDUE, created_at=now
        )
        signals.referral_changed.send(sender=Referral, referral=self, event=event)
        return True

    def post_message(self, *, by: User, organization: Organization | None, body: str) -> Message:
        """Add a message to the thread; only the two sides may write, and not to drafts."""
        from referrals import signals

        body = body.strip()
        if not body:
            raise TransitionError(_("Write a message first."))
        if self.side_of(by, organization) is None or self.status == Status.DRAFT:
            raise TransitionError(_("You cannot write on this referral."))
        with transaction.atomic():
            message = Message.objects.create(
                referral=self, author=by, author_organization=organization, body=body
            )
            event = ReferralEvent.objects.create(
                referral=self,
                kind=ReferralEvent.Kind.MESSAGE,
                actor=by,
                actor_organization=organization,
                text=body,
                data={"message_id": message.pk},
                created_at=message.created_at,
            )
            Referral.objects.filter(pk=self.pk).update(updated_at=message.created_at)
            signals.referral_changed.send(sender=Referral, referral=self, event=event)
        return message

    def set_step(
        self, *, by: User, organization: Organization | None, step: str, intake_at=None
    ) -> ReferralEvent:
        """The receiving side reports a finer step (Task.businessStatus)."""
        from referrals import signals

        if step not in BusinessStatus.values:
            raise TransitionError(_("Choose a step from the list."))
        if step == BusinessStatus.INTAKE_BOOKED and intake_at is None:
            raise TransitionError(_("Give the date and time of the intake appointment."))
        with transaction.atomic():
            locked = Referral.objects.select_for_update().get(pk=self.pk)
            self._lend_loaded_relations(locked)
            if locked.side_of(by, organization) != Side.RECEIVING:
                raise TransitionError(_("Only the receiving organization can do this."))
            if locked.status in TERMINAL:
                raise TransitionError(
                    _("This referral is closed (“%(status)s”): its step can no longer change.")
                    % {"status": Status(locked.status).label}
                )
            if locked.status not in (Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD):
                raise TransitionError(_("Accept the referral first."))
            # The stored words are for the audit log and other systems: one language, whoever
            # set the step. The timeline names the step from its code, in the reader's.
            with translation.override(settings.LANGUAGE_CODE):
                step_text = str(BusinessStatus(step).label)
            locked.business_status = step
            locked.intake_at = intake_at if step == BusinessStatus.INTAKE_BOOKED else None
            locked.version += 1
            locked.save()
            event = ReferralEvent.objects.create(
                referral=locked,
                kind=ReferralEvent.Kind.STEP,
                actor=by,
                actor_organization=organization,
                text=step_text,
                data={"step": step, "intake_at": intake_at.isoformat() if intake_at else None},
            )
            signals.referral_changed.send(sender=Referral, referral=locked, event=event)
        self._take_values_from(locked)
        return event


class ReferralEvent(models.Model):
    """One line of a referral's timeline: a status change, a message, a step, a view."""

    class Kind(models.TextChoices):
        STATUS = "status", _("Status changed")
        MESSAGE = "message", _("Message")
        STEP = "step", _("Step updated")
        VIEWED = "viewed", _("Viewed by the other side")
        OVERDUE = "overdue", _("Flagged overdue")
        NOTE = "note", _("Note")

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_organization = models.ForeignKey(
        "directory.Organization", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    reason = models.CharField(max_length=32, choices=ReasonCode.choices, blank=True)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            # The timeline and message thread: WHERE referral = ? ORDER BY created_at
            models.Index(fields=["referral", "created_at"], name="event_timeline"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on referral {self.referral_id}"

    @property
    def step_label(self) -> str:
        """For a step event: the step, named in the reader's language (``text`` is stored in
        the portal's default language)."""
        step = (self.data or {}).get("step")
        return _choice_label(BusinessStatus, step) if step else self.text

    @property
    def intake_at(self) -> datetime | None:
        """For a step event: the intake appointment it booked, if any."""
        value = (self.data or {}).get("intake_at")
        return datetime.fromisoformat(value) if value else None


class Message(models.Model):
    """A message in a referral's thread, between the referring and receiving sides."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    author_organization = models.ForeignKey(
        "directory.Organization", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["referral", "created_at"], name="message_thread")]

    def __str__(self) -> str:
        return f"Message {self.pk} on referral {self.referral_id}"


class ReadMark(models.Model):
    """How far a person has read a referral's thread: unread = newer messages from the other side."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["referral", "user"], name="readmark_one_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read referral {self.referral_id} at {self.read_at:%Y-%m-%d %H:%M}"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """Something a person should know about a referral; shown in the portal, maybe emailed."""

    class Kind(models.TextChoices):
        NEW_REFERRAL = "new", _("New referral")
        STATUS = "status", _("Status change")
        MESSAGE = "message", _("New message")
        OVERDUE = "overdue", _("Overdue referral")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    referral = models.ForeignKey(
        Referral, on_delete=models.CASCADE, related_name="notifications", null=True
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The unread badge: WHERE user = ? AND read_at IS NULL
            models.Index(fields=["user", "read_at"], name="notification_unread"),
        ]

    def __str__(self) -> str:
        return self.text


class EmailPreference(models.Model):
    """Which notifications a person also wants by email (all of them, unless they say so)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_preference"
    )
    new_referrals = models.BooleanField(_("New referrals for my organization"), default=True)
    status_changes = models.BooleanField(_("Status changes on referrals"), default=True)
    messages = models.BooleanField(_("New messages"), default=True)
    overdue = models.BooleanField(_("Overdue referrals"), default=True)

    def __str__(self) -> str:
        return f"Email settings of user {self.user_id}"

    def wants(self, kind: str) -> bool:
        return {
            Notification.Kind.NEW_REFERRAL: self.new_referrals,
            Notification.Kind.STATUS: self.status_changes,
            Notification.Kind.MESSAGE: self.messages,
            Notification.Kind.OVERDUE: self.overdue,
        }[kind]
