"""The demo cast: one clinic and three community organizations, each with its people."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import transaction

from accounts.models import Membership, Role, User
from directory.models import Organization

DEMO_PASSWORD = "handoff-demo-2026"


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    role: str


@dataclass(frozen=True)
class DemoOrganization:
    name: str
    kind: str
    description: str
    email: str
    website: str
    people: tuple[DemoPerson, ...]


DEMO_ORGANIZATIONS: tuple[DemoOrganization, ...] = (
    DemoOrganization(
        name="Riverside Community Health Center",
        kind=Organization.Kind.REFERS,
        description="A community health center offering primary care, behavioral health and care coordination.",
        email="info@riverside-chc.example.org",
        website="https://riverside-chc.example.org",
        people=(
            DemoPerson("ana.rivera@riverside-chc.example.org", "Ana Rivera", Role.REFERRER),
            DemoPerson("sam.chen@riverside-chc.example.org", "Sam Chen", Role.REFERRER),
            DemoPerson("grace.okafor@riverside-chc.example.org", "Grace Okafor", Role.ORG_ADMIN),
        ),
    ),
    DemoOrganization(
        name="Eastside Food Bank",
        kind=Organization.Kind.RECEIVES,
        description="Emergency groceries, a weekly food pantry, home-delivered meals and help applying for SNAP.",
        email="help@eastside-food.example.org",
        website="https://eastside-food.example.org",
        people=(
            DemoPerson("maria.lopez@eastside-food.example.org", "María López", Role.CBO_STAFF),
            DemoPerson("tom.baker@eastside-food.example.org", "Tom Baker", Role.ORG_ADMIN),
        ),
    ),
    DemoOrganization(
        name="Harbor Housing Alliance",
        kind=Organization.Kind.RECEIVES,
        description="Emergency shelter placement, rental assistance, eviction prevention and home repair referrals.",
        email="intake@harbor-housing.example.org",
        website="https://harbor-housing.example.org",
        people=(
            DemoPerson("james.wu@harbor-housing.example.org", "James Wu", Role.CBO_STAFF),
            DemoPerson("lena.park@harbor-housing.example.org", "Lena Park", Role.ORG_ADMIN),
        ),
    ),
    DemoOrganization(
        name="RideWell Transportation Program",
        kind=Organization.Kind.RECEIVES,
        description="Free rides to medical appointments, pharmacies and grocery stores for people without a car.",
        email="rides@ridewell.example.org",
        website="https://ridewell.example.org",
        people=(
            DemoPerson("omar.haddad@ridewell.example.org", "Omar Haddad", Role.CBO_STAFF),
            DemoPerson("beth.nguyen@ridewell.example.org", "Beth Nguyen", Role.ORG_ADMIN),
        ),
    ),
)


@transaction.atomic
def seed_people(*, with_known_password: bool) -> list[tuple[DemoOrganization, DemoPerson]]:
    """Create (or bring back to the demo state) the demo organizations and people.

    Safe to run again: everything is looked up by name or email first.
    """
    seeded = []
    for spec in DEMO_ORGANIZATIONS:
        organization, _ = Organization.objects.update_or_create(
            name=spec.name,
            defaults={
                "kind": spec.kind,
                "description": spec.description,
                "email": spec.email,
                "website": spec.website,
            },
        )
        for person in spec.people:
            user = User.objects.filter(email=person.email).first()
            if user is None:
                user = User.objects.create_user(email=person.email, full_name=person.full_name)
            if with_known_password:
                user.set_password(DEMO_PASSWORD)
            else:
                user.set_unusable_password()
            user.full_name = person.full_name
            user.save()
            EmailAddress.objects.update_or_create(
                user=user, email=person.email, defaults={"primary": True, "verified": True}
            )
            Membership.objects.update_or_create(
                user=user, organization=organization, defaults={"role": person.role}
            )
            seeded.append((spec, person))
    return seeded
