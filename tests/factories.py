"""factory-boy factories for every app, in one place."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.models import Membership, Role, User
from directory.models import Organization

TEST_PASSWORD = "correct horse battery staple 42"


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    description = "An organization used in tests."
    kind = Organization.Kind.RECEIVES


class ClinicFactory(OrganizationFactory):
    name = factory.Sequence(lambda n: f"Clinic {n}")
    kind = Organization.Kind.REFERS


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.CBO_STAFF


def member(organization: Organization, role: str = Role.CBO_STAFF, **user_fields) -> User:
    """A user with one membership: the usual cast member of a test."""
    user = UserFactory(**user_fields)
    MembershipFactory(user=user, organization=organization, role=role)
    return user


# --- directory -----------------------------------------------------------------------------
from datetime import time as _time  # noqa: E402

from directory.models import (  # noqa: E402
    Language,
    Location,
    Schedule,
    Service,
    ServiceAtLocation,
    ServiceTaxonomy,
    TaxonomyTerm,
)


class ServiceFactory(DjangoModelFactory):
    class Meta:
        model = Service

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Service {n}")
    description = "A service used in tests."


class LocationFactory(DjangoModelFactory):
    class Meta:
        model = Location

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Location {n}")
    address_1 = "1 Main St"
    city = "Boston"
    state_province = "MA"
    postal_code = "02118"
    latitude = 42.3362
    longitude = -71.0729


class ScheduleFactory(DjangoModelFactory):
    class Meta:
        model = Schedule

    service = factory.SubFactory(ServiceFactory)
    byday = "MO,TU,WE,TH,FR"
    opens_at = _time(9)
    closes_at = _time(17)
    timezone = "America/New_York"


def directory_service(
    *,
    terms: tuple[str, ...] = (),
    at: tuple[float, float] | None = None,
    languages: tuple[str, ...] = (),
    **fields,
) -> Service:
    """A service under shipped taxonomy terms (by code), optionally at a point, indexed for search."""
    service = ServiceFactory(**fields)
    for code in terms:
        ServiceTaxonomy.objects.create(
            service=service, taxonomy_term=TaxonomyTerm.objects.get(vocabulary="handoff", code=code)
        )
    if at is not None:
        location = LocationFactory(
            organization=service.organization, latitude=at[0], longitude=at[1]
        )
        ServiceAtLocation.objects.create(service=service, location=location)
    for code in languages:
        Language.objects.create(service=service, code=code, name=code)
    service.refresh_search_document()
    return service


# --- patients and screening ----------------------------------------------------------------
import datetime as _datetime  # noqa: E402

from patients.models import Patient  # noqa: E402
from screening.instrument import get_instrument  # noqa: E402
from screening.models import Need, Screening  # noqa: E402


class PatientFactory(DjangoModelFactory):
    class Meta:
        model = Patient

    organization = factory.SubFactory(ClinicFactory)
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    birth_date = _datetime.date(1980, 5, 17)
    preferred_language = "en"
    zip_code = "02118"


class ScreeningFactory(DjangoModelFactory):
    class Meta:
        model = Screening

    patient = factory.SubFactory(PatientFactory)
    instrument_id = "ahc-hrsn-core"
    instrument_version = factory.LazyAttribute(lambda o: get_instrument(o.instrument_id).version)
    language = "en"


class NeedFactory(DjangoModelFactory):
    class Meta:
        model = Need

    patient = factory.SubFactory(PatientFactory)
    category = "food-insecurity"


def answer_all(screening: Screening, answers: dict[str, list[str] | str]) -> Screening:
    """Record answers by question code; a str is one token ("declined", "not-asked" or a code)."""
    for code, tokens in answers.items():
        screening.record(code, [tokens] if isinstance(tokens, str) else tokens)
    return screening


# --- consent and referrals -----------------------------------------------------------------
from django.utils import timezone as _timezone  # noqa: E402

from patients.models import Consent  # noqa: E402


def consent_for(patient: Patient, organization: Organization, by: User, **fields) -> Consent:
    """An active consent (verbal, a year long) to share with ``organization``."""
    values = {
        "method": Consent.Method.VERBAL,
        "share_contact": True,
        "share_needs": True,
        "share_screening": False,
        "given_at": _timezone.now(),
        "expires_on": _timezone.localdate() + _datetime.timedelta(days=365),
        **fields,
    }
    return Consent.objects.create(
        patient=patient, organization=organization, recorded_by=by, **values
    )


def referral(patient: Patient, service: Service, by: User, *, send: bool = True, **fields):
    """A referral from ``by``'s organization (the patient's) to ``service``, sent by default."""
    from referrals.models import Referral

    consent = fields.pop("consent", None) or consent_for(patient, service.organization, by)
    made = Referral.objects.create(
        patient=patient,
        need_category=fields.pop("need_category", "food-insecurity"),
        referring_organization=patient.organization,
        referred_by=by,
        service=service,
        receiving_organization=service.organization,
        consent=consent,
        contact_method=fields.pop("contact_method", "phone"),
        language=fields.pop("language", "en"),
        **fields,
    )
    if send:
        made.apply("send", by=by, organization=patient.organization)
    return made
