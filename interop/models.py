from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from patients.validators import validate_absolute_uri


def readable_error(text: str, translatable: dict | None) -> str:
    """A stored error in the reader's language.

    The sender works with no reader, so it stores its errors in English (``text``, for logs
    and the admin) and, where the error is one of Handoff's own messages, that message's id and
    details (``translatable``: {"id": ..., "params": {...}}, from EhrError.translatable). Shown,
    the message is translated; the details (an exception's name, what the EHR said) stay as they
    came. Anything else is shown as stored.
    """
    if not translatable:
        return text
    try:
        return gettext(translatable["id"]) % translatable["params"]
    except (KeyError, TypeError, ValueError):  # a message since changed: what was stored
        return text


class EhrConnectionQuerySet(models.QuerySet["EhrConnection"]):
    def for_organization(self, organization) -> EhrConnectionQuerySet:
        return self.filter(organization=organization)

    def active(self) -> EhrConnectionQuerySet:
        return self.filter(is_active=True)

    def sending_screenings(self) -> EhrConnectionQuerySet:
        return self.active().filter(send_screenings=True)

    def sending_referrals(self) -> EhrConnectionQuerySet:
        return self.active().filter(send_referrals=True)


class EhrConnection(models.Model):
    """Where a health organization's EHR listens for FHIR R4, how to sign in, and what to send."""

    class AuthKind(models.TextChoices):
        NONE = "none", _("None (an open test server)")
        BEARER = "bearer", _("A bearer token")
        SMART_BACKEND = "smart-backend", _("SMART Backend Services (signed JWT)")

    class Algorithm(models.TextChoices):
        RS384 = "RS384", "RS384"
        ES384 = "ES384", "ES384"

    organization = models.OneToOneField(
        "directory.Organization",
        on_delete=models.CASCADE,
        related_name="ehr_connection",
        verbose_name=_("organization"),
    )
    base_url = models.URLField(_("FHIR base URL"), max_length=500)
    auth_kind = models.CharField(
        _("authentication"), max_length=16, choices=AuthKind.choices, default=AuthKind.NONE
    )
    # Secrets are write-only in the portal's pages: shown never, replaced when typed again.
    bearer_token = models.CharField(_("bearer token"), max_length=2000, blank=True)
    client_id = models.CharField(_("client id"), max_length=255, blank=True)
    token_url = models.URLField(_("token URL"), max_length=500, blank=True)
    private_key_pem = models.TextField(_("private key (PEM)"), blank=True)
    key_id = models.CharField(_("key id (kid)"), max_length=255, blank=True)
    algorithm = models.CharField(
        _("signing algorithm"), max_length=8, choices=Algorithm.choices, default=Algorithm.RS384
    )
    scope = models.CharField(
        _("scope"), max_length=500, blank=True, default="system/*.read system/*.write"
    )
    mrn_system = models.CharField(
        _("MRN identifier system"),
        max_length=255,
        blank=True,
        validators=[validate_absolute_uri],  # FHIR Identifier.system, as on a patient
        help_text=_(
            "The URI the EHR uses for its medical record numbers, for patients registered "
            "without one of their own."
        ),
    )
    send_screenings = models.BooleanField(_("send screenings and needs"), default=True)
    send_referrals = models.BooleanField(_("send referrals and outcomes"), default=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Reachability, kept by the sender: one probe per backoff step while the EHR is down.
    unreachable_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_translatable = models.JSONField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EhrConnectionQuerySet.as_manager()

    class Meta:
        verbose_name = _("EHR connection")
        verbose_name_plural = _("EHR connections")

    def __str__(self) -> str:
        return f"{self.organization} → {self.base_url}"

    @property
    def error_text(self) -> str:
        """What went wrong last, in the reader's language where it is Handoff's own message."""
        return readable_error(self.last_error, self.last_error_translatable)

    def clean(self) -> None:
        errors = {}
        if self.auth_kind == self.AuthKind.BEARER and not self.bearer_token:
            errors["bearer_token"] = _("Enter the bearer token the EHR gave you.")
        if self.auth_kind == self.AuthKind.SMART_BACKEND:
            for name in ("client_id", "token_url", "private_key_pem"):
                if not getattr(self, name):
                    errors[name] = _("SMART Backend Services needs this.")
        if errors:
            raise ValidationError(errors)


class OutboxQuerySet(models.QuerySet["OutboxMessage"]):
    def waiting_or_failed(self) -> OutboxQuerySet:
        return self.filter(
            state__in=[
                OutboxMessage.State.PENDING,
                OutboxMessage.State.FAILED,
                OutboxMessage.State.REJECTED,
            ]
        )

    def for_organization(self, organization) -> OutboxQuerySet:
        return self.filter(connection__organization=organization)


class OutboxMessage(models.Model):
    """One resource to put on one EHR, written in the transaction of the change it carries."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed, needs a retry")
        REJECTED = "rejected", _("Rejected by the EHR")
        SUPERSEDED = "superseded", _("Replaced by a newer change")

    connection = models.ForeignKey(EhrConnection, on_delete=models.CASCADE, related_name="outbox")
    # What changed in the portal ("screening:12", later "referral:34"); sequence orders its
    # changes, and a change is sent only after every earlier one of its aggregate.
    aggregate = models.CharField(max_length=64)
    sequence = models.PositiveIntegerField()
    resource_type = models.CharField(max_length=64)
    # The portal's identifier: the EHR's copy is found (and updated in place) by it.
    identifier_system = models.CharField(max_length=255)
    identifier_value = models.CharField(max_length=255)
    # The resource as it was when the change was made, with the portal's local references.
    payload = models.JSONField()
    # The version of the portal record this copy shows (a referral's ``version``), when it
    # has one: a copy never replaces one of a later version on the EHR, whatever the order.
    source_version = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker's lease while it sends (a crashed worker's lease runs out; resending is safe).
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(blank=True)
    last_error_translatable = models.JSONField(null=True, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True)
    outcome_text = models.TextField(_("what the EHR said"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    server_id = models.CharField(max_length=128, blank=True)
    server_version = models.CharField(max_length=128, blank=True)

    objects = OutboxQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "aggregate", "sequence"], name="outbox_one_per_sequence"
            ),
        ]
        indexes = [
            # The sender's "is anything earlier still unsent?": aggregate + sequence < n.
            models.Index(fields=["connection", "aggregate", "sequence"], name="outbox_aggregate"),
            # The sender's due list: WHERE state = 'pending' AND next_attempt_at <= now
            # ORDER BY next_attempt_at, id LIMIT 1 — walked in order, stopping at the first
            # message that is first in its aggregate, instead of sorting every due row.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="outbox_due_in_order",
                condition=Q(state="pending"),
            ),
            # Superseding: older unsent copies of the same resource.
            models.Index(
                fields=["connection", "resource_type", "identifier_value"], name="outbox_resource"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.aggregate}#{self.sequence} {self.resource_type} ({self.state})"

    @property
    def error_text(self) -> str:
        """What went wrong last, in the reader's language where it is Handoff's own message."""
        return readable_error(self.last_error, self.last_error_translatable)

    @property
    def conditional_query(self) -> str:
        return f"identifier={self.identifier_system}|{self.identifier_value}"

    @property
    def aggregate_label(self) -> str:
        """ "screening:12" as a person would say it: "Screening 12"."""
        kind, _sep, key = self.aggregate.partition(":")
        names = {"screening": _("Screening"), "referral": _("Referral")}
        return f"{names.get(kind, kind)} {key}"


class RemoteResource(models.Model):
    """What one EHR holds for one of the portal's identifiers: its id there, and version."""

    connection = models.ForeignKey(EhrConnection, on_delete=models.CASCADE, related_name="+")
    resource_type = models.CharField(max_length=64)
    identifier_system = models.CharField(max_length=255)
    identifier_value = models.CharField(max_length=255)
    server_id = models.CharField(max_length=128)
    server_version = models.CharField(max_length=128, blank=True)
    # The portal record's version the EHR holds (see OutboxMessage.source_version).
    source_version = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "resource_type", "identifier_system", "identifier_value"],
                name="remote_resource_one_per_identifier",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.server_id}"

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.server_id}"


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


TOKEN_PREFIX = "hfx_"


class ApiClientQuerySet(models.QuerySet["ApiClient"]):
    def for_organization(self, organization) -> ApiClientQuerySet:
        return self.filter(organization=organization)

    def usable(self) -> ApiClientQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiClient(models.Model):
    """A system (an EHR) calling the portal's FHIR API for one organization, by bearer token.

    Only a SHA-256 hash of the token is kept: the token is random and long, so a plain hash
    cannot be reversed, and a database leak does not hand out working tokens.
    """

    organization = models.ForeignKey(
        "directory.Organization", on_delete=models.CASCADE, related_name="api_clients"
    )
    name = models.CharField(_("name"), max_length=200)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_hint = models.CharField(max_length=12, editable=False)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Who the client acts as when it sends a referral in (the portal records a person for
    # every change): a user of its own that cannot sign in, made on first use.
    user = models.OneToOneField(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)

    objects = ApiClientQuerySet.as_manager()

    class Meta:
        ordering = ["revoked_at", "name", "pk"]
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})"

    @classmethod
    def issue(cls, organization, name: str, *, by=None) -> tuple[ApiClient, str]:
        """A new client and its token; the token is returned here once and never again."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        client = cls.objects.create(
            organization=organization,
            name=name,
            token_hash=_hash_token(secret),
            token_hint=secret[: len(TOKEN_PREFIX) + 4],
            created_by=by,
        )
        return client, secret

    @classmethod
    def authenticate(cls, secret: str) -> ApiClient | None:
        """The unrevoked client holding ``secret``, its last use noted; None otherwise."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        client = (
            cls.objects.usable()
            .select_related("organization")
            .filter(token_hash=_hash_token(secret))
            .first()
        )
        if client is not None:
            client.last_used = timezone.now()
            cls.objects.filter(pk=client.pk).update(last_used=client.last_used)
        return client

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def acting_user(self):
        """The portal user this client acts as (made on first use; it cannot sign in and gets
        no email)."""
        from accounts.models import User
        from referrals.models import EmailPreference

        if self.user_id:
            return self.user
        with transaction.atomic():
            locked = ApiClient.objects.select_for_update().get(pk=self.pk)
            if locked.user_id is None:
                user = User.objects.create_user(
                    email=f"api-client-{self.pk}@api.handoff.invalid",
                    full_name=f"{self.name} (EHR)"[:200],
                    is_active=False,
                )
                EmailPreference.objects.create(
                    user=user,
                    new_referrals=False,
                    status_changes=False,
                    messages=False,
                    overdue=False,
                )
                locked.user = user
                locked.save(update_fields=["user"])
            self.user = locked.user
        return self.user


class InboundReferral(models.Model):
    """A referral an EHR sent in through the FHIR API, with the identifiers it gave it."""

    referral = models.OneToOneField(
        "referrals.Referral", on_delete=models.CASCADE, related_name="inbound"
    )
    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="referrals")
    organization = models.ForeignKey(
        "directory.Organization", on_delete=models.CASCADE, related_name="+"
    )
    # The EHR's own identifiers ("system|value"), shown back on the resources it reads, and
    # its Task identifier used to answer a resent Bundle with the referral it already made.
    task_identifier = models.CharField(max_length=600, blank=True)
    identifiers = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "task_identifier"],
                condition=~Q(task_identifier=""),
                name="inbound_one_per_task_identifier",
            ),
        ]

    def __str__(self) -> str:
        return f"Referral {self.referral_id} from {self.client}"
