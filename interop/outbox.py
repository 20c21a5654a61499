"""The transactional outbox: changes for EHRs are written with the change, sent later, in order.

``enqueue`` runs inside the caller's transaction, so the change and its outbox rows commit
or roll back together, and the worker's wake-up (a django-tasks row in the same database)
with them. The sender (``send_due``, run by the ``send_outbox`` task) puts each resource on
the EHR by conditional update on the portal's identifier, so a resend never makes a copy.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.db import transaction
from django.db.models import Exists, F, Max, Min, OuterRef, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from interop.client import EhrError, EhrServer, server_for
from interop.mapping import (
    local_references,
    logical_reference,
    patient_identifier,
    patient_resource,
    portal_system,
    rewrite_references,
    with_portal_identifier,
)
from interop.models import EhrConnection, OutboxMessage, RemoteResource
from patients.models import Patient

logger = logging.getLogger(__name__)

State = OutboxMessage.State
UNSENT = [State.PENDING, State.FAILED, State.REJECTED]
# A worker's lease on a message it is sending; longer than the request timeout.
LEASE = timedelta(seconds=90)
FIRST_RETRY = timedelta(seconds=5)
LONGEST_WAIT = timedelta(hours=1)
# A resource the EHR keeps failing on (5xx) stops after this many tries, for an admin to see.
# An unreachable EHR is not the message's fault: those retries go on, an hour apart at most.
MAX_ATTEMPTS = 10


def backoff(failures: int) -> timedelta:
    """5 s, 10 s, 20 s, … capped at an hour, with a little jitter so workers spread out."""
    wait = min(FIRST_RETRY * 2 ** max(failures - 1, 0), LONGEST_WAIT)
    return wait * (1 + random.random() / 10)


# --- writing -----------------------------------------------------------------------------


def enqueue(
    connection: EhrConnection,
    aggregate: str,
    resources: list[dict],
    *,
    version: int | None = None,
) -> list[OutboxMessage]:
    """Queue ``resources`` (FHIR JSON with local ids) for ``connection``, in this order.

    Must run inside the transaction that makes the change, holding the aggregate's row lock
    (so two changes to one aggregate cannot take the same sequence number). An older unsent
    copy of the same resource is superseded: only the newest state is worth sending.
    ``version`` is the portal record's version these copies show (a referral's): a copy is
    never sent over one of a later version.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("interop.outbox.enqueue must run inside the caller's transaction")
    last = (
        OutboxMessage.objects.filter(connection=connection, aggregate=aggregate).aggregate(
            last=Max("sequence")
        )["last"]
        or 0
    )
    now = timezone.now()
    messages = []
    for offset, resource in enumerate(resources, start=1):
        payload, system, value = with_portal_identifier(resource)
        OutboxMessage.objects.filter(
            connection=connection,
            resource_type=payload["resourceType"],
            identifier_system=system,
            identifier_value=value,
            state__in=UNSENT,
        ).update(state=State.SUPERSEDED, claim="")
        messages.append(
            OutboxMessage(
                connection=connection,
                aggregate=aggregate,
                sequence=last + offset,
                resource_type=payload["resourceType"],
                identifier_system=system,
                identifier_value=value,
                payload=payload,
                source_version=version,
                next_attempt_at=now,
                created_at=now,
            )
        )
    OutboxMessage.objects.bulk_create(messages)
    if messages:
        _wake_worker()
    return messages


def enqueue_screening(screening) -> list[OutboxMessage]:
    """Queue a completed screening's QuestionnaireResponse, Observations and Conditions for
    the organization's EHR, if it has an active connection that takes screenings."""
    from screening.fhir import screening_resources

    connection = (
        EhrConnection.objects.sending_screenings()
        .filter(organization_id=screening.patient.organization_id)
        .first()
    )
    if connection is None or not screening.is_completed:
        return []
    resources = [r.as_json() for r in screening_resources(screening)]
    return enqueue(connection, f"screening:{screening.pk}", resources)


def connection_for_referrals(organization_id: int) -> EhrConnection | None:
    return EhrConnection.objects.sending_referrals().filter(organization_id=organization_id).first()


def enqueue_referral(referral, event) -> list[OutboxMessage]:
    """Queue what a referral change means for the referring organization's EHR.

    On sending: the Consent, the ServiceRequest and the Task. On every later status or step:
    the Task; on completion the Procedure first (the Task's output points at it), and when
    the referral closes the ServiceRequest too (completed or revoked). Drafts stay in the
    portal, and so do referrals the EHR sent in itself (it follows those through the API).
    Runs in the change's transaction, under the referral's row lock (``Referral.apply``).
    """
    from interop import referral_fhir
    from interop.models import InboundReferral
    from referrals.models import ReferralEvent
    from referrals.transitions import TERMINAL, Status

    if event.kind not in (ReferralEvent.Kind.STATUS, ReferralEvent.Kind.STEP):
        return []
    if referral.sent_at is None:
        return []
    connection = connection_for_referrals(referral.referring_organization_id)
    if connection is None or InboundReferral.objects.filter(referral_id=referral.pk).exists():
        return []
    aggregate = f"referral:{referral.pk}"
    first = not OutboxMessage.objects.filter(connection=connection, aggregate=aggregate).exists()
    status_change = event.kind == ReferralEvent.Kind.STATUS
    if first:
        resources = referral_fhir.referral_resources(
            referral, needs=_synced_needs(connection, referral)
        )
    else:
        resources = []
        if status_change and referral.status == Status.COMPLETED:
            resources.append(
                referral_fhir.procedure(referral, needs=_synced_needs(connection, referral))
            )
        resources.append(referral_fhir.task(referral))
        if status_change and referral.status in TERMINAL:
            resources.append(
                referral_fhir.service_request(referral, needs=_synced_needs(connection, referral))
            )
    return enqueue(
        connection, aggregate, [r.as_json() for r in resources], version=referral.version
    )


def _synced_needs(connection: EhrConnection, referral) -> list[int]:
    """The referral's needs whose Condition went (or is going) to this EHR: the reasons it can
    point at."""
    from interop.referral_fhir import need_ids

    ids = need_ids(referral)
    if not ids:
        return []
    sent = set(
        OutboxMessage.objects.filter(
            connection=connection,
            resource_type="Condition",
            identifier_value__in=[f"need-{pk}" for pk in ids],
        ).values_list("identifier_value", flat=True)
    )
    return [pk for pk in ids if f"need-{pk}" in sent]


def enqueue_consent(consent) -> list[OutboxMessage]:
    """Queue a consent (recorded or withdrawn) for the EHR of the patient's organization."""
    from interop import referral_fhir

    connection = connection_for_referrals(consent.patient.organization_id)
    if connection is None:
        return []
    return enqueue(connection, f"consent:{consent.pk}", [referral_fhir.consent(consent).as_json()])


def _wake_worker(at: datetime | None = None) -> None:
    from interop.tasks import send_outbox

    if at is None:
        send_outbox.enqueue()
    else:
        send_outbox.using(run_after=at).enqueue()


def retry_all(connection: EhrConnection) -> int:
    """An admin's retry of everything failed or rejected on ``connection``, in order."""
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(
            connection=connection, state__in=[State.FAILED, State.REJECTED]
        ).update(state=State.PENDING, attempts=0, next_attempt_at=timezone.now(), claim="")
        EhrConnection.objects.filter(pk=connection.pk).update(retry_at=None)
        if updated:
            _wake_worker()
    return updated


def retry(message: OutboxMessage) -> bool:
    """An admin's retry of a failed or rejected message (after fixing what was wrong)."""
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(
            pk=message.pk, state__in=[State.FAILED, State.REJECTED]
        ).update(state=State.PENDING, attempts=0, next_attempt_at=timezone.now(), claim="")
        EhrConnection.objects.filter(pk=message.connection_id).update(retry_at=None)
        if updated:
            _wake_worker()
    return bool(updated)


# --- sending -----------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    rejected: int = 0
    superseded: int = 0


def _due(now: datetime, skip: set[int]):
    earlier_unsent = OutboxMessage.objects.filter(
        connection=OuterRef("connection"),
        aggregate=OuterRef("aggregate"),
        sequence__lt=OuterRef("sequence"),
        state__in=UNSENT,
    )
    return (
        OutboxMessage.objects.filter(
            state=State.PENDING, next_attempt_at__lte=now, connection__is_active=True
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(Q(connection__retry_at__isnull=True) | Q(connection__retry_at__lte=now))
        .exclude(connection_id__in=skip)
        .filter(~Exists(earlier_unsent))
        .order_by("next_attempt_at", "pk")
    )


# How many of the earliest due messages a claim looks at before it searches them all.
CLAIM_WINDOW = 50
# Messages one claim takes (each the first unsent of its aggregate, so of different ones):
# one claiming transaction per batch instead of per message.
CLAIM_BATCH = 10
# A claimed message is sent only while this much of its lease is left; otherwise it is let
# go, for this or another worker to take afresh.
LEASE_MARGIN = timedelta(seconds=40)
# Sends are recorded a batch at a time, or sooner when the first unrecorded one is this old.
RECORD_WITHIN = timedelta(seconds=1)


def _bookkeeping_commit() -> None:
    """The sender's own records (a claim, a "sent") need not wait for the disk: lost in a
    crash, the message is simply sent again, and resending is safe (conditional update)."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _claim(skip: set[int], size: int) -> list[OutboxMessage]:
    """Take up to ``size`` messages that are due and first in their aggregates."""
    now = timezone.now()
    with transaction.atomic():
        _bookkeeping_commit()
        # The row lock (skipping rows another worker holds) makes two workers take different
        # messages; "first in its aggregate" keeps one aggregate's messages one at a time.
        due = _due(now, skip).select_for_update(skip_locked=True, of=("self",))
        # Look at the earliest few first (an index walk): with thousands waiting, asking the
        # database for "the first that is first in its aggregate" among all of them made it
        # check and sort every one (20 ms a claim). Only when all of those few are held
        # behind an earlier message is the whole list searched.
        window = list(
            OutboxMessage.objects.filter(state=State.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:CLAIM_WINDOW]
        )
        messages = (
            list(due.filter(pk__in=window).select_related("connection")[:size]) if window else []
        )
        if not messages and len(window) == CLAIM_WINDOW:
            messages = list(due.select_related("connection")[:size])
        if not messages:
            return []
        claim, until = uuid.uuid4().hex, now + LEASE
        OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(
            claim=claim, claimed_until=until, attempts=F("attempts") + 1
        )
        for message in messages:
            message.claim, message.claimed_until = claim, until
            message.attempts += 1
    return messages


def _claim_next(skip: set[int]) -> OutboxMessage | None:
    """Take the next message that is due and first in its aggregate, for one send."""
    claimed = _claim(skip, 1)
    return claimed[0] if claimed else None


def _release(messages: list[OutboxMessage]) -> None:
    """Let go of claimed messages that were not tried (the attempt is not counted)."""
    for message in messages:
        OutboxMessage.objects.filter(pk=message.pk, claim=message.claim).update(
            claim="", claimed_until=None, attempts=F("attempts") - 1
        )


def send_due(*, budget: timedelta = timedelta(seconds=50)) -> SendReport:
    """Send what is due, until nothing is or the time budget is spent; then plan the next run."""
    report = SendReport()
    unreachable: set[int] = set()
    # One client (and so one kept-alive HTTP connection) per EHR for the whole run.
    servers: dict[int, EhrServer] = {}
    # References already found on each EHR in this run (its ids do not change under us).
    known: dict[tuple, dict] = {}
    until = timezone.now() + budget
    batch: list[OutboxMessage] = []
    run = _Run(known=known)
    while timezone.now() < until:
        if not batch:
            run.record_sent()  # the last batch's "sent", in one transaction
            batch = _claim(unreachable, CLAIM_BATCH)
            if not batch:
                break
            _look_up(batch, known)
            run.check(batch)
        run.record_sent(older_than=RECORD_WITHIN)
        message = batch.pop(0)
        if (
            message.connection_id in unreachable
            or message.claimed_until - timezone.now() < LEASE_MARGIN
        ):
            _release([message])
            continue
        server = servers.get(message.connection_id)
        if server is None or server.connection.updated_at != message.connection.updated_at:
            server = servers[message.connection_id] = server_for(message.connection)
        outcome = deliver(message, server, known=known, run=run)
        setattr(report, outcome, getattr(report, outcome) + 1)
        if outcome == "retrying" and message.connection.unreachable_since:
            unreachable.add(message.connection_id)
    run.record_sent()
    _release(batch)
    _plan_next_run()
    return report


def _resource_key(message: OutboxMessage) -> tuple:
    return (
        message.connection_id,
        message.resource_type,
        message.identifier_system,
        message.identifier_value,
    )


@dataclass
class _Run:
    """What one sender run knows besides the database: which claimed messages were already
    found superseded (checked a batch at a time), which versions it sent (so a message of
    the same resource later in the run is checked against them too), and the sends it has
    not yet recorded (recorded a batch at a time, in one transaction)."""

    known: dict
    superseded: set = field(default_factory=set)
    sent_versions: dict = field(default_factory=dict)
    unrecorded: list = field(default_factory=list)

    def check(self, batch: list[OutboxMessage]) -> None:
        self.superseded |= _superseded_in(batch)

    def is_superseded(self, message: OutboxMessage) -> bool:
        if message.pk in self.superseded:
            return True
        sent = self.sent_versions.get(_resource_key(message))
        if sent is None:
            return False
        # Sent in this run after this message was checked: if that was a later copy of the
        # resource, this older state must not land after it (the order _superseded_in uses).
        sent_version, sent_pk = sent
        if message.source_version is None or sent_version is None:
            return sent_pk > message.pk
        return (sent_version, sent_pk) > (message.source_version, message.pk)

    def sent(self, message: OutboxMessage, server_id: str, version: str, at: datetime) -> None:
        self.sent_versions[_resource_key(message)] = (message.source_version, message.pk)
        self.unrecorded.append((message, server_id, version, at))

    def record_sent(self, *, older_than: timedelta | None = None) -> None:
        """Record the sends not yet recorded (with ``older_than``: if the first of them is
        that old, so a slow EHR does not hold them past their leases)."""
        if older_than is not None and (
            not self.unrecorded or timezone.now() - self.unrecorded[0][3] < older_than
        ):
            return
        if self.unrecorded:
            _record_sent(self.unrecorded)
            self.unrecorded = []


def schedule_sender() -> bool:
    """Make sure the sender runs when something is (or becomes) due: after a worker crashed
    mid-run, its messages' leases run out and this picks them up. True if one was queued."""
    return _plan_next_run()


def _plan_next_run() -> bool:
    """A wake-up for the earliest time something becomes due, unless one is already waiting.

    Messages held behind an earlier unsent one of their aggregate are not "due": they move
    when that one does, and that one has its own time here.
    """
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    if _due(now, set()).exists():
        at = now
    else:
        pending = OutboxMessage.objects.filter(state=State.PENDING, connection__is_active=True)
        candidates = [
            pending.filter(next_attempt_at__gt=now).aggregate(at=Min("next_attempt_at"))["at"],
            pending.filter(claimed_until__gt=now).aggregate(at=Min("claimed_until"))["at"],
            EhrConnection.objects.filter(
                is_active=True, retry_at__gt=now, outbox__state=State.PENDING
            ).aggregate(at=Min("retry_at"))["at"],
        ]
        at = min(filter(None, candidates), default=None)
    if at is None:
        return False
    waiting = DBTaskResult.objects.filter(
        task_path="interop.tasks.send_outbox", status="READY"
    ).filter(Q(run_after__isnull=True) | Q(run_after__lte=at))
    if waiting.exists():
        return False
    _wake_worker(at if at > now else None)
    return True


def _finish(message: OutboxMessage, **fields) -> bool:
    """Record the result if this worker still holds the message (its lease may have run out)."""
    fields.setdefault("claim", "")
    fields.setdefault("claimed_until", None)
    return bool(OutboxMessage.objects.filter(pk=message.pk, claim=message.claim).update(**fields))


def deliver(
    message: OutboxMessage,
    server: EhrServer | None = None,
    *,
    known: dict | None = None,
    run: _Run | None = None,
) -> str:
    """Send one claimed message; returns "sent", "retrying", "rejected" or "superseded".

    ``known`` keeps the EHR references found so far in this run. With ``run`` (the sender's
    loop), the supersede check was made for the whole batch and "sent" is recorded with the
    batch's; alone, both happen here."""
    connection = message.connection
    if run is not None:
        superseded = run.is_superseded(message)
    else:
        superseded = message.pk in _superseded_in([message])
    if superseded:
        # A later change of the same resource is queued or already on the EHR: this older
        # state must never land after it.
        _finish(message, state=State.SUPERSEDED)
        return "superseded"
    server = server or server_for(connection)
    try:
        known = {} if known is None else known
        body = rewrite_references(
            message.payload, lambda kind, local: _resolve(server, connection, kind, local, known)
        )
        query = urlencode({"identifier": f"{message.identifier_system}|{message.identifier_value}"})
        response = server.put_json(f"{message.resource_type}?{query}", body)
        stored = response.json()
    except EhrError as error:
        return _failed(message, error)
    except Patient.DoesNotExist:
        return _failed(
            message,
            EhrError(
                gettext_noop("The patient no longer exists in the portal."),
                params={},
                transient=False,
            ),
        )
    except Exception as error:
        # A surprise (an odd answer from the EHR, or a bug here) must not stop the other
        # messages: this one is retried with backoff and, if it keeps happening, shown as failed.
        logger.exception("Unexpected error sending %s", message)
        return _failed(
            message, EhrError(f"{type(error).__name__}: {error}", transient=True, status=500)
        )
    now = timezone.now()
    server_id = str(stored.get("id", ""))
    version = str((stored.get("meta") or {}).get("versionId", ""))
    if run is not None:
        run.sent(message, server_id, version, now)
    else:
        _record_sent([(message, server_id, version, now)])
    return "sent"


def _superseded_in(batch: list[OutboxMessage]) -> set[int]:
    """The claimed messages whose resource has a later copy queued or sent, or whose EHR
    already holds a later version: two queries for a batch (with and without a version)."""
    found: set[int] = set()
    same = {
        "connection": OuterRef("connection"),
        "resource_type": OuterRef("resource_type"),
        "identifier_system": OuterRef("identifier_system"),
        "identifier_value": OuterRef("identifier_value"),
    }
    later_copy = OutboxMessage.objects.filter(**same).exclude(state=State.SUPERSEDED)
    versioned = [m.pk for m in batch if m.source_version is not None]
    unversioned = [m.pk for m in batch if m.source_version is None]
    if versioned:
        later = (
            Q(source_version__gt=OuterRef("source_version"))
            | Q(source_version=OuterRef("source_version"), pk__gt=OuterRef("pk"))
            | Q(source_version__isnull=True, pk__gt=OuterRef("pk"))
        )
        held = RemoteResource.objects.filter(**same, source_version__gt=OuterRef("source_version"))
        found.update(
            OutboxMessage.objects.filter(pk__in=versioned)
            .filter(Exists(later_copy.filter(later)) | Exists(held))
            .values_list("pk", flat=True)
        )
    if unversioned:
        found.update(
            OutboxMessage.objects.filter(pk__in=unversioned)
            .filter(Exists(later_copy.filter(pk__gt=OuterRef("pk"))))
            .values_list("pk", flat=True)
        )
    return found


def _record_sent(sends: list[tuple[OutboxMessage, str, str, datetime]]) -> None:
    """Mark sends as done and remember what each EHR now holds, in one transaction: only
    those this worker still holds (a lease that ran out belongs to whoever took it next)."""
    with transaction.atomic():
        _bookkeeping_commit()
        claims = {m.claim for m, *_ in sends}
        still_mine = set(
            OutboxMessage.objects.select_for_update()
            .filter(pk__in=[m.pk for m, *_ in sends], claim__in=claims)
            .values_list("pk", "claim")
        )
        done = [s for s in sends if (s[0].pk, s[0].claim) in still_mine]
        OutboxMessage.objects.filter(pk__in=[m.pk for m, *_ in done]).update(
            state=State.SENT,
            last_error="",
            last_error_translatable=None,
            outcome_text="",
            claim="",
            claimed_until=None,
        )
        OutboxMessage.objects.bulk_update(
            [
                OutboxMessage(pk=m.pk, sent_at=at, server_id=server_id, server_version=version)
                for m, server_id, version, at in done
            ],
            ["sent_at", "server_id", "server_version"],
        )
        # What each EHR holds; the latest send of a resource in this batch wins.
        latest = {_resource_key(m): (m, server_id, version) for m, server_id, version, _at in done}
        _remember_all(
            [
                RemoteResource(
                    connection_id=m.connection_id,
                    resource_type=m.resource_type,
                    identifier_system=m.identifier_system,
                    identifier_value=m.identifier_value,
                    server_id=server_id,
                    server_version=version,
                    source_version=m.source_version,
                )
                for m, server_id, version in latest.values()
            ]
        )
        for connection in {m.connection_id: m.connection for m, *_ in sends}.values():
            _reachable(connection)


def _failed(message: OutboxMessage, error: EhrError) -> str:
    now = timezone.now()
    connection = message.connection
    text = str(error)[:2000]
    error_fields = {
        "last_error": text,
        "last_error_translatable": error.translatable(),
        "last_error_at": now,
    }
    if not error.transient:
        _finish(
            message,
            state=State.REJECTED,
            **error_fields,
            # Only what the EHR (or its sign-in) said is its "outcome"; a local reason is not.
            outcome_text=error.outcome[:2000] if error.status is not None else "",
        )
        if error.status is not None:
            _reachable(connection)
        logger.warning("EHR rejected %s: %s", message, text)
        return "rejected"
    if error.status is None:
        # Not reachable at all: the whole connection waits, probed once per backoff step.
        with transaction.atomic():
            locked = EhrConnection.objects.select_for_update().get(pk=connection.pk)
            locked.consecutive_failures += 1
            locked.unreachable_since = locked.unreachable_since or now
            locked.retry_at = now + backoff(locked.consecutive_failures)
            locked.last_error = text[:500]
            locked.last_error_translatable = error.translatable()
            locked.save(
                update_fields=[
                    "consecutive_failures",
                    "unreachable_since",
                    "retry_at",
                    "last_error",
                    "last_error_translatable",
                ]
            )
            connection.unreachable_since = locked.unreachable_since
            _finish(message, **error_fields, next_attempt_at=locked.retry_at)
    elif message.attempts >= MAX_ATTEMPTS:
        _finish(message, state=State.FAILED, **error_fields)
        return "rejected"
    else:
        _finish(message, **error_fields, next_attempt_at=now + backoff(message.attempts))
    logger.info("EHR send of %s will be retried: %s", message, text)
    return "retrying"


def _reachable(connection: EhrConnection) -> None:
    if connection.unreachable_since or connection.consecutive_failures or connection.retry_at:
        EhrConnection.objects.filter(pk=connection.pk).update(
            unreachable_since=None,
            consecutive_failures=0,
            retry_at=None,
            last_error="",
            last_error_translatable=None,
        )
        connection.unreachable_since = None
        connection.consecutive_failures = 0
        connection.retry_at = None


def _remember(
    connection, resource_type, system, value, server_id, version, source_version=None
) -> None:
    _remember_all(
        [
            RemoteResource(
                connection=connection,
                resource_type=resource_type,
                identifier_system=system,
                identifier_value=value,
                server_id=server_id,
                server_version=version,
                source_version=source_version,
            )
        ]
    )


def _remember_all(held: list[RemoteResource]) -> None:
    """What the EHRs now hold (one row per resource in ``held``)."""
    # One statement (INSERT … ON CONFLICT DO UPDATE) rather than a read, then a write.
    RemoteResource.objects.bulk_create(
        held,
        update_conflicts=True,
        unique_fields=["connection", "resource_type", "identifier_system", "identifier_value"],
        update_fields=["server_id", "server_version", "source_version", "updated_at"],
    )


def _look_up(batch: list[OutboxMessage], known: dict) -> None:
    """Find what a batch refers to that its EHRs already hold, in two queries for the whole
    batch instead of one or two per reference."""
    wanted: dict[tuple, tuple[str, str]] = {}  # (connection, type, local id) -> (system, value)
    patients: dict[tuple, str] = {}
    for message in batch:
        for kind, local_id in local_references(message.payload):
            key = (message.connection_id, kind, local_id)
            if key in known:
                continue
            if kind == "Patient":
                patients[key] = local_id
            else:
                wanted[key] = (portal_system(kind), local_id)
    if patients:
        rows = Patient.objects.in_bulk(
            [int(pk) for pk in patients.values() if pk.isdigit() and len(pk) < 19]
        )
        connections = {m.connection_id: m.connection for m in batch}
        for key, local_id in patients.items():
            patient = rows.get(int(local_id)) if local_id.isdigit() and len(local_id) < 19 else None
            if patient is not None:
                wanted[key] = patient_identifier(patient, connections[key[0]].mrn_system)
    if not wanted:
        return
    remotes = RemoteResource.objects.filter(
        connection_id__in={key[0] for key in wanted},
        identifier_value__in={value for _system, value in wanted.values()},
    )
    held = {
        (r.connection_id, r.resource_type, r.identifier_system, r.identifier_value): r
        for r in remotes
    }
    for key, (system, value) in wanted.items():
        remote = held.get((key[0], key[1], system, value))
        if remote is not None:
            known[key] = {"reference": remote.reference}


def _resolve(
    server: EhrServer, connection: EhrConnection, kind: str, local_id: str, known: dict
) -> dict:
    """The reference to use on the EHR for the portal's local ``kind/local_id``."""
    key = (connection.pk, kind, local_id)
    if key in known:
        return dict(known[key])
    if kind == "Patient":
        found = {"reference": f"Patient/{resolve_patient(server, connection, local_id)}"}
    else:
        remote = RemoteResource.objects.filter(
            connection=connection,
            resource_type=kind,
            identifier_system=portal_system(kind),
            identifier_value=local_id,
        ).first()
        if remote is None:
            # Not on the EHR yet (maybe later in this run): named by the portal's identifier.
            return logical_reference(kind, local_id)
        found = {"reference": remote.reference}
    known[key] = found
    return dict(found)


def resolve_patient(server: EhrServer, connection: EhrConnection, patient_pk: str) -> str:
    """The EHR's id for the portal's patient, found by MRN; created only if the EHR has none.

    Search first, then a conditional create (If-None-Exist) by the same identifier, so two
    workers racing to register one person still leave the EHR with one record.
    """
    from fhirclient.models.patient import Patient as FhirPatient

    patient = Patient.objects.get(pk=patient_pk)
    system, value = patient_identifier(patient, connection.mrn_system)
    remote = RemoteResource.objects.filter(
        connection=connection,
        resource_type="Patient",
        identifier_system=system,
        identifier_value=value,
    ).first()
    if remote is not None:
        return remote.server_id
    search = FhirPatient.where({"identifier": f"{system}|{value}"}).construct()
    found = [
        e["resource"] for e in server.request_json(search).get("entry") or [] if "resource" in e
    ]
    if len(found) > 1:
        raise EhrError(
            gettext_noop(
                "The EHR holds %(count)s patients with the identifier %(value)s; fix that there."
            ),
            params={"count": len(found), "value": value},
            transient=False,
        )
    if found:
        server_id = found[0]["id"]
    else:
        query = urlencode({"identifier": f"{system}|{value}"})
        created = server.post_json(
            "Patient",
            patient_resource(patient, connection.mrn_system),
            headers={"If-None-Exist": query},
        ).json()
        server_id = created["id"]
    _remember(connection, "Patient", system, value, server_id, "")
    return server_id


# --- showing -----------------------------------------------------------------------------


@dataclass
class SyncState:
    """Where an aggregate's changes are on their way to the EHR, in plain words."""

    kind: str  # "sent", "waiting", "rejected", "failed"
    text: str

    def __str__(self) -> str:
        return self.text


def _clock(when: datetime) -> str:
    local = timezone.localtime(when)
    if local.date() == timezone.localdate():
        return date_format(local, "H:i")
    return date_format(local, "SHORT_DATETIME_FORMAT")


def sync_state_for(aggregate: str) -> SyncState | None:
    """Plain-language status of everything sent for ``aggregate`` ("screening:12"); None
    when nothing is sent for it."""
    messages = list(
        OutboxMessage.objects.filter(aggregate=aggregate)
        .exclude(state=State.SUPERSEDED)
        .select_related("connection")
        .order_by("sequence")
    )
    if not messages:
        return None
    rejected = [m for m in messages if m.state == State.REJECTED]
    if rejected:
        if rejected[0].outcome_text:
            text = _("Rejected by EHR: %(reason)s") % {"reason": rejected[0].outcome_text}
        else:
            text = _("Not sent: %(reason)s") % {"reason": rejected[0].error_text}
        return SyncState("rejected", text)
    if any(m.state == State.FAILED for m in messages):
        return SyncState(
            "failed",
            _("Not sent — the EHR kept failing; an organization admin can retry."),
        )
    waiting = [m for m in messages if m.state == State.PENDING]
    if waiting:
        connection = waiting[0].connection
        if connection.unreachable_since:
            return SyncState(
                "waiting",
                _("Waiting — EHR unreachable since %(time)s, retrying")
                % {"time": _clock(connection.unreachable_since)},
            )
        if not connection.is_active:
            return SyncState("waiting", _("Waiting — the EHR connection is switched off"))
        failing = [m for m in waiting if m.last_error]
        if failing:
            return SyncState(
                "waiting",
                _("Waiting — the EHR answered with an error, retrying: %(error)s")
                % {"error": failing[0].error_text},
            )
        return SyncState("waiting", _("Waiting to be sent to the EHR"))
    last = max(m.sent_at for m in messages if m.sent_at)
    return SyncState("sent", _("Sent to EHR %(when)s") % {"when": naturaltime(last)})
