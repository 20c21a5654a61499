from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with their email address."""

    username = None
    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=8,
        default="en",
        choices=[("en", "English"), ("es", "Español")],
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Role(models.TextChoices):
    REFERRER = "referrer", _("Referrer (clinician or care coordinator)")
    CBO_STAFF = "cbo_staff", _("Community organization staff")
    ORG_ADMIN = "org_admin", _("Organization admin")


class MembershipQuerySet(models.QuerySet["Membership"]):
    def for_user(self, user) -> MembershipQuerySet:
        """Memberships in the organizations where ``user`` is an org admin."""
        if not user.is_authenticated:
            return self.none()
        admin_orgs = Membership.objects.filter(user=user, role=Role.ORG_ADMIN).values(
            "organization_id"
        )
        return self.filter(organization_id__in=admin_orgs)

    def organization_ids_for(self, user) -> list[int]:
        return list(
            self.filter(user=user, user__is_active=True)
            .values_list("organization_id", flat=True)
            .distinct()
        )

    def user_has_role(self, user_id: int, organization_id: int, roles: Iterable[str]) -> bool:
        qs = self.filter(user_id=user_id, user__is_active=True, organization_id=organization_id)
        roles = list(roles)
        if roles:
            qs = qs.filter(role__in=roles)
        return qs.exists()


class Membership(models.Model):
    """A user's place in one organization, with one role there."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    organization = models.ForeignKey(
        "directory.Organization",
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("organization"),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)
    added_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "user__email"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="membership_one_per_user_and_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.organization} ({self.get_role_display()})"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ORG_ADMIN

    def change_role(self, role: str) -> None:
        """Change this member's role; an organization always keeps at least one admin."""
        with transaction.atomic():
            # Lock the organization's admin rows so two admins demoting each other at once
            # cannot leave the organization with none.
            admins = list(
                Membership.objects.select_for_update()
                .filter(organization_id=self.organization_id, role=Role.ORG_ADMIN)
                .values_list("pk", flat=True)
            )
            if self.role == Role.ORG_ADMIN and role != Role.ORG_ADMIN and admins == [self.pk]:
                raise LastAdminError
            self.role = role
            self.save(update_fields=["role"])

    def remove(self) -> None:
        """Remove this member; the last admin cannot be removed."""
        with transaction.atomic():
            admins = list(
                Membership.objects.select_for_update()
                .filter(organization_id=self.organization_id, role=Role.ORG_ADMIN)
                .values_list("pk", flat=True)
            )
            if self.role == Role.ORG_ADMIN and admins == [self.pk]:
                raise LastAdminError
            self.delete()


class LastAdminError(Exception):
    """Raised when a change would leave an organization without an admin."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def for_organization(self, organization) -> AuditEventQuerySet:
        """What an org admin may read: events on their organization's data, and their people's."""
        return self.filter(
            models.Q(organization=organization) | models.Q(actor_organization=organization)
        )


class AuditEvent(models.Model):
    """Who looked at or changed what, when: written for every outside view and every change."""

    class Action(models.TextChoices):
        VIEW_PATIENT = "view-patient", _("Viewed a patient")
        VIEW_REFERRAL = "view-referral", _("Viewed a referral")
        CHANGE = "change", _("Changed a record")
        CONSENT = "consent", _("Recorded or withdrew consent")
        EXPORT = "export", _("Exported data")
        API_CALL = "api-call", _("Called the FHIR API")

    # The organization whose data it is (a patient's organization), so its admins see it.
    organization = models.ForeignKey(
        "directory.Organization", on_delete=models.CASCADE, related_name="audit_events"
    )
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    actor_organization = models.ForeignKey(
        "directory.Organization", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    action = models.CharField(max_length=32, choices=Action.choices)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # The admin's audit page: WHERE organization = ? ORDER BY at DESC
            models.Index(fields=["organization", "-at"], name="audit_by_org"),
            models.Index(fields=["actor_organization", "-at"], name="audit_by_actor_org"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_type} {self.object_id}"

    @classmethod
    def record(
        cls, *, organization, actor, actor_organization, action, obj, detail=""
    ) -> AuditEvent:
        """Write one line of ``organization``'s audit log (an Organization or its id: callers
        that hold only the id, such as ``patient.organization_id``, need not load the row)."""
        return cls.objects.create(
            organization_id=organization if isinstance(organization, int) else organization.pk,
            actor=actor,
            actor_organization=actor_organization,
            action=action,
            object_type=obj._meta.model_name,
            object_id=str(obj.pk),
            detail=detail[:300],
        )
