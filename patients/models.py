from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from directory.languages import LANGUAGES
from patients.validators import validate_absolute_uri, validate_birth_date, validate_phone

if TYPE_CHECKING:
    from directory.models import Organization

# Dates people type into a search box: ISO, and the US month/day/year form.
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y")


def parse_date(text: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


class PatientQuerySet(models.QuerySet["Patient"]):
    def for_organization(self, organization: Organization | int) -> PatientQuerySet:
        return self.filter(organization=organization)

    def search(self, text: str) -> PatientQuerySet:
        """Patients matching every word of ``text`` by name, or a date of birth, or an MRN."""
        text = text.strip()
        if not text:
            return self
        born = parse_date(text)
        if born is not None:
            return self.filter(birth_date=born)
        by_name = Q()
        for word in re.split(r"[\s,]+", text):
            if word:
                by_name &= Q(given_name__icontains=word) | Q(family_name__icontains=word)
        return self.filter(by_name | Q(mrn__iexact=text))

    def same_person_as(
        self, given_name: str, family_name: str, birth_date: date
    ) -> PatientQuerySet:
        """Possible duplicates: same name (ignoring case and spaces) and date of birth."""
        return self.annotate(_given=Lower("given_name"), _family=Lower("family_name")).filter(
            _given=given_name.strip().lower(),
            _family=family_name.strip().lower(),
            birth_date=birth_date,
        )


class Patient(models.Model):
    """A person registered by a health organization, who may be screened and referred."""

    class Sex(models.TextChoices):
        # FHIR AdministrativeGender, which Patient.gender carries.
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")
        OTHER = "other", _("Other")
        UNKNOWN = "unknown", _("Unknown")

    class ContactMethod(models.TextChoices):
        PHONE = "phone", _("Phone call")
        TEXT = "text", _("Text message")
        EMAIL = "email", _("Email")
        MAIL = "mail", _("Mail")
        IN_PERSON = "in-person", _("In person")

    organization = models.ForeignKey(
        "directory.Organization",
        on_delete=models.PROTECT,
        related_name="patients",
        verbose_name=_("registered by"),
    )
    given_name = models.CharField(_("first name"), max_length=100)
    family_name = models.CharField(_("last name"), max_length=100)
    birth_date = models.DateField(_("date of birth"), validators=[validate_birth_date])
    sex = models.CharField(_("sex"), max_length=16, choices=Sex.choices, blank=True)
    gender_identity = models.CharField(_("gender identity"), max_length=100, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=8, choices=list(LANGUAGES.items()), default="en"
    )
    interpreter_needed = models.BooleanField(_("needs an interpreter"), default=False)
    address_line = models.CharField(_("street address"), max_length=255, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=2, blank=True)
    zip_code = models.CharField(_("ZIP code"), max_length=10, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True, validators=[validate_phone])
    email = models.EmailField(_("email"), blank=True)
    contact_method = models.CharField(
        _("preferred way to contact"), max_length=16, choices=ContactMethod.choices, blank=True
    )
    contact_times = models.CharField(_("best times to contact"), max_length=200, blank=True)
    mrn = models.CharField(_("medical record number (MRN)"), max_length=64, blank=True)
    mrn_system = models.CharField(
        _("MRN system"),
        max_length=255,
        blank=True,
        help_text=_("The identifier system of the EHR that issued the MRN (a URI)."),
        validators=[validate_absolute_uri],
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("registered"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["family_name", "given_name", "pk"]
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        constraints = [
            # One EHR record per patient in an organization; an empty MRN is allowed many times.
            models.UniqueConstraint(
                fields=["organization", "mrn_system", "mrn"],
                condition=~Q(mrn=""),
                name="patient_unique_mrn_per_org",
            ),
        ]
        indexes = [
            # The patient search: WHERE organization_id = ? AND birth_date = ?
            models.Index(fields=["organization", "birth_date"], name="patient_org_birth"),
            # ... and by family name within an organization.
            models.Index(fields=["organization", "family_name"], name="patient_org_family"),
        ]

    def __str__(self) -> str:
        return self.full_name

    def get_absolute_url(self) -> str:
        return reverse("patients:detail", args=[self.pk])

    @property
    def one_line_address(self) -> str:
        """ "12 Main St, Boston, MA 02118": the parts there are, as an address is written."""
        parts = [self.address_line, self.city, f"{self.state} {self.zip_code}".strip()]
        return ", ".join(part for part in parts if part)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


class ConsentQuerySet(models.QuerySet["Consent"]):
    def for_organization(self, organization: Organization | int) -> ConsentQuerySet:
        """Consents recorded by (and kept at) the patient's organization."""
        return self.filter(patient__organization=organization)

    def active(self, now=None) -> ConsentQuerySet:
        from django.utils import timezone

        today = timezone.localdate(now) if now else timezone.localdate()
        return self.filter(withdrawn_at__isnull=True, expires_on__gte=today)


class Consent(models.Model):
    """A person's consent to share their information with one receiving organization.

    FHIR Consent (scope: patient-privacy). No referral leaves draft without one that covers
    its receiving organization; the receiving side sees only what it allows, and nothing
    once it is withdrawn or has ended.
    """

    class Method(models.TextChoices):
        VERBAL = "verbal", _("Verbal, in person or by phone")
        WRITTEN = "written", _("Signed paper form")
        ELECTRONIC = "electronic", _("Electronic signature typed by the person")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    organization = models.ForeignKey(
        "directory.Organization",
        on_delete=models.PROTECT,
        related_name="consents_received",
        verbose_name=_("shared with"),
    )
    method = models.CharField(_("how consent was given"), max_length=16, choices=Method.choices)
    signature = models.CharField(_("name typed by the person"), max_length=200, blank=True)
    share_contact = models.BooleanField(_("may share contact details"), default=True)
    share_needs = models.BooleanField(_("may share the needs"), default=True)
    share_screening = models.BooleanField(_("may share the screening answers"), default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    given_at = models.DateTimeField(_("given"))
    expires_on = models.DateField(_("ends on"))
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-given_at", "-pk"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        indexes = [models.Index(fields=["patient", "organization"], name="consent_patient_org")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(method="electronic") | ~Q(signature=""),
                name="consent_electronic_needs_signature",
            )
        ]

    def __str__(self) -> str:
        return f"{self.patient} → {self.organization}"

    def is_active(self, now=None) -> bool:
        from django.utils import timezone

        today = timezone.localdate(now) if now else timezone.localdate()
        return self.withdrawn_at is None and self.expires_on >= today

    def covers(self, organization: Organization, now=None) -> bool:
        return self.organization_id == organization.pk and self.is_active(now)

    def snapshot_for(self, referral) -> dict:
        """What the receiving side of ``referral`` may see, frozen when the referral is sent.

        Codes rather than labels (contact method, language, needs, screening answers): the
        page names them in the reader's language when it is shown (referrals.handoff).
        """
        from screening.sharing import answers_to_share

        patient = self.patient
        shared: dict = {"consent_id": self.pk, "language": referral.language}
        if self.share_contact and not referral.do_not_contact:
            address = patient.one_line_address
            shared["contact"] = {
                "method": referral.contact_method,
                "times": referral.contact_times,
                "phone": patient.phone,
                "email": patient.email,
                "address": address,
            }
        if self.share_needs:
            categories = {referral.need_category} | {n.category for n in referral.needs.all()}
            shared["needs"] = sorted(categories)
        if self.share_screening:
            # Only the answers about this referral's need, never those about safety at home.
            answers = answers_to_share(patient, referral.need_category)
            if answers is not None:
                shared["screening"] = answers
        return shared

    def withdraw(self, *, by, organization) -> int:
        """Withdraw: the receiving side loses the shared data at once, and that organization's
        open referrals for this person are cancelled ("consent withdrawn"). Returns how many.
        """
        from django.db import transaction
        from django.utils import timezone

        from accounts.models import AuditEvent
        from patients import signals
        from referrals.models import ReasonCode, Referral
        from referrals.transitions import OPEN, Status, TransitionError

        cancelled = 0
        with transaction.atomic():
            locked = Consent.objects.select_for_update().get(pk=self.pk)
            if locked.withdrawn_at is not None:
                return 0
            locked.withdrawn_at = timezone.now()
            locked.withdrawn_by = by
            locked.save(update_fields=["withdrawn_at", "withdrawn_by"])
            AuditEvent.record(
                organization=self.patient.organization,
                actor=by,
                actor_organization=organization,
                action=AuditEvent.Action.CONSENT,
                obj=locked,
                detail=f"withdrew consent to share with {self.organization.name}",
            )
            signals.consent_changed.send(sender=Consent, consent=locked)
            for referral in Referral.objects.filter(
                patient=self.patient,
                receiving_organization=self.organization,
                status__in=[*OPEN, Status.DRAFT],
            ):
                try:
                    referral.apply(
                        "cancel",
                        by=by,
                        organization=organization,
                        reason=ReasonCode.CONSENT_WITHDRAWN,
                    )
                except TransitionError:  # closed meanwhile
                    continue
                cancelled += 1
        self.refresh_from_db()
        return cancelled
