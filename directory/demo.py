"""Demo directory: real services for the demo organizations, plus generated ones around them."""

from __future__ import annotations

import uuid
from datetime import time

from django.db import transaction

from directory.generator import LANGUAGE_WEIGHTS, generate_directory
from directory.models import (
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
    ServiceTaxonomy,
    TaxonomyTerm,
    refresh_search_documents,
)
from directory.taxonomy import load_taxonomy

NAMESPACE = uuid.UUID("0f7c2d55-93c1-4d39-9a3e-2bb3f0c6a001")
GENERATED_SERVICES = 300
GENERATED_SEED = 2026

LANGUAGE_NAMES = {code: name for code, name, _ in LANGUAGE_WEIGHTS} | {"en": "English"}
WEEKDAYS = "MO,TU,WE,TH,FR"
DAILY = "MO,TU,WE,TH,FR,SA,SU"

# organization name → (location, [(service name, description, term codes, hours, languages, capacity)])
DEMO_SERVICES = {
    "Eastside Food Bank": (
        ("Eastside Food Bank", "1520 Washington St", "Boston", "02118", 42.3399, -71.0752),
        [
            (
                "Weekly Food Pantry",
                "Free groceries once a week, client choice: pick what your family eats.",
                ["food.food-pantry.client-choice-pantry", "emergency.emergency-food.food-pantry"],
                [("TU,TH", time(10), time(18)), ("SA", time(9), time(13))],
                ["en", "es", "ht"],
                "accepting",
            ),
            (
                "Home-Delivered Meals",
                "Hot meals delivered on weekdays to people who cannot shop or cook.",
                ["food.meals.home-delivered-meals"],
                [(WEEKDAYS, time(8), time(15))],
                ["en", "es"],
                "waitlist",
            ),
            (
                "SNAP Application Help",
                "One-on-one help applying for SNAP food benefits.",
                ["food.food-benefits-enrollment.snap-enrollment"],
                [(WEEKDAYS, time(9), time(17))],
                ["en", "es", "pt"],
                "accepting",
            ),
        ],
    ),
    "Harbor Housing Alliance": (
        ("Harbor Housing Alliance", "85 Harrison Ave", "Boston", "02111", 42.3505, -71.0611),
        [
            (
                "Emergency Shelter Placement",
                "Finds a shelter bed tonight. Intake runs overnight.",
                [
                    "emergency.emergency-shelter.night-shelter",
                    "housing.homeless-services.coordinated-entry",
                ],
                [(DAILY, time(18), time(8))],
                ["en", "es"],
                "accepting",
            ),
            (
                "Rental Assistance",
                "Help paying back rent and the first month in a new home.",
                ["housing.help-pay-for-housing.rental-assistance"],
                [(WEEKDAYS, time(9), time(17))],
                ["en", "es", "zh"],
                "waitlist",
            ),
            (
                "Eviction Prevention",
                "Legal help and landlord mediation for tenants facing eviction.",
                ["housing.eviction-prevention"],
                [(WEEKDAYS, time(9), time(17))],
                ["en", "es"],
                "accepting",
            ),
        ],
    ),
    "RideWell Transportation Program": (
        ("RideWell Dispatch", "400 Columbia Rd", "Dorchester", "02125", 42.3192, -71.0657),
        [
            (
                "Rides to Medical Appointments",
                "Free door-to-door rides to medical and dental appointments.",
                ["transit.medical-transportation.non-emergency-medical-transportation"],
                [(WEEKDAYS, time(6), time(20))],
                ["en", "es", "vi"],
                "accepting",
            ),
            (
                "Grocery and Pharmacy Rides",
                "Weekly rides to grocery stores and pharmacies.",
                [
                    "transit.medical-transportation.rides-to-pharmacy",
                    "transit.ride-programs.senior-rides",
                ],
                [("MO,WE,FR", time(9), time(15))],
                ["en"],
                "accepting",
            ),
        ],
    ),
}


def _id(*parts: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "/".join(parts))


@transaction.atomic
def seed_directory(stdout=None) -> None:
    """Give the demo organizations their services and add generated ones nearby. Idempotent."""
    load_taxonomy()
    touched = []
    for org_name, (place, specs) in DEMO_SERVICES.items():
        organization = Organization.objects.filter(name=org_name).first()
        if organization is None:
            continue
        loc_name, street, city, zip_code, lat, lng = place
        location, _ = Location.objects.update_or_create(
            hsds_id=_id(org_name, "location"),
            defaults={
                "organization": organization,
                "name": loc_name,
                "address_1": street,
                "city": city,
                "state_province": "MA",
                "postal_code": zip_code,
                "latitude": lat,
                "longitude": lng,
            },
        )
        for name, description, codes, hours, languages, capacity in specs:
            service, _ = Service.objects.update_or_create(
                hsds_id=_id(org_name, name),
                defaults={
                    "organization": organization,
                    "name": name,
                    "description": description,
                    "capacity": capacity,
                },
            )
            ServiceAtLocation.objects.get_or_create(
                service=service, location=location, defaults={"hsds_id": _id(org_name, name, "sal")}
            )
            for term in TaxonomyTerm.objects.filter(vocabulary="handoff", code__in=codes):
                ServiceTaxonomy.objects.get_or_create(
                    service=service,
                    taxonomy_term=term,
                    defaults={"hsds_id": _id(org_name, name, term.code)},
                )
            if not service.schedules.exists():
                for byday, opens, closes in hours:
                    Schedule.objects.create(
                        service=service, byday=byday, opens_at=opens, closes_at=closes
                    )
            for code in languages:
                Language.objects.get_or_create(
                    service=service,
                    code=code,
                    defaults={"hsds_id": _id(org_name, name, code), "name": LANGUAGE_NAMES[code]},
                )
            Phone.objects.get_or_create(
                hsds_id=_id(org_name, name, "phone"),
                defaults={"service": service, "number": "617-555-0100", "type": "voice"},
            )
            touched.append(service.pk)
    refresh_search_documents(Service.objects.filter(pk__in=touched))
    marker = Service.objects.filter(organization__email="info@org1.example.org").exists()
    if not marker:
        counts = generate_directory(GENERATED_SERVICES, GENERATED_SEED)
        if stdout is not None:
            stdout.write(f"Directory: {counts.services} generated services around Boston.")
    if stdout is not None:
        stdout.write(f"Directory: {len(touched)} demo services are ready.")


def seeder():
    """The callable seed_demo runs (see accounts/management/commands/seed_demo.py)."""
    return seed_directory
