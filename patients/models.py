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
    birth_date = models.DateField(_("date of birth"))
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
    phone = models.CharField(_("phone"), max_length=32, blank=True)
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
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()
