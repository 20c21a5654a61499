"""Demo patients and referrals, so each role's pages show the loop at work. Idempotent."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from directory.models import Organization, Service
from patients.models import Consent, Patient
from referrals.models import Referral
from screening.models import Need

CLINIC = "Riverside Community Health Center"
REFERRER = "ana.rivera@riverside-chc.example.org"
FOOD_STAFF = "maria.lopez@eastside-food.example.org"
HOUSING_STAFF_ORG = "Harbor Housing Alliance"

PATIENTS = [
    # MRN, given, family, born, language, phone, zip, need
    (
        "DEMO-1001",
        "Rosa",
        "Delgado",
        datetime.date(1979, 3, 14),
        "es",
        "617-555-0142",
        "02118",
        "food-insecurity",
    ),
    (
        "DEMO-1002",
        "James",
        "Carter",
        datetime.date(1962, 11, 2),
        "en",
        "617-555-0177",
        "02119",
        "housing-instability",
    ),
    (
        "DEMO-1003",
        "Linh",
        "Nguyen",
        datetime.date(1990, 7, 30),
        "vi",
        "617-555-0190",
        "02125",
        "transportation-insecurity",
    ),
]
# Which demo service each patient is referred to, and how far the referral has got.
REFERRALS = [
    ("DEMO-1001", "Weekly Food Pantry", []),
    ("DEMO-1002", "Rental Assistance", ["accept"]),
    ("DEMO-1003", "Rides to Medical Appointments", ["accept", "start"]),
]


@transaction.atomic
def seed_referrals(stdout=None) -> None:
    clinic = Organization.objects.filter(name=CLINIC).first()
    referrer = User.objects.filter(email=REFERRER).first()
    if clinic is None or referrer is None:
        return
    patients = {}
    for mrn, given, family, born, language, phone, zip_code, need in PATIENTS:
        patient, created = Patient.objects.get_or_create(
            organization=clinic,
            mrn=mrn,
            mrn_system="urn:oid:2.16.840.1.113883.3.0000.1",
            defaults={
                "given_name": given,
                "family_name": family,
                "birth_date": born,
                "preferred_language": language,
                "phone": phone,
                "zip_code": zip_code,
                "city": "Boston",
                "state": "MA",
                "contact_method": Patient.ContactMethod.PHONE,
                "registered_by": referrer,
            },
        )
        if created:
            Need.objects.create(patient=patient, category=need, added_by=referrer)
        patients[mrn] = (patient, need)
    made = 0
    for mrn, service_name, steps in REFERRALS:
        patient, need = patients[mrn]
        if Referral.objects.filter(patient=patient).exists():
            continue
        service = Service.objects.filter(name=service_name).select_related("organization").first()
        if service is None:
            continue
        receiving = service.organization
        consent = Consent.objects.create(
            patient=patient,
            organization=receiving,
            method=Consent.Method.VERBAL,
            recorded_by=referrer,
            given_at=timezone.now(),
            expires_on=timezone.localdate() + datetime.timedelta(days=365),
        )
        referral = Referral.objects.create(
            patient=patient,
            need_category=need,
            referring_organization=clinic,
            referred_by=referrer,
            service=service,
            receiving_organization=receiving,
            consent=consent,
            contact_method=Patient.ContactMethod.PHONE,
            language=patient.preferred_language,
            interpreter_needed=patient.preferred_language not in ("en", "es"),
            note="Demo referral: please call in the morning.",
        )
        referral.needs.set(Need.objects.filter(patient=patient))
        referral.apply("send", by=referrer, organization=clinic)
        staff = User.objects.filter(memberships__organization=receiving).first()
        for step in steps:
            referral.apply(step, by=staff, organization=receiving)
        made += 1
    if stdout is not None and made:
        stdout.write(f"Referrals: {made} demo referrals are ready.")


def seeder():
    return seed_referrals
