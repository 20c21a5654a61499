from __future__ import annotations

import pytest

from tests.factories import PatientFactory, directory_service, referral


@pytest.fixture
def service(food_bank):
    """A food pantry at the food bank, near the clinic's patients, answering in 2 business days."""
    return directory_service(
        organization=food_bank,
        name="Eastside Pantry",
        terms=("food.food-pantry",),
        at=(42.3362, -71.0729),
        response_time_days=2,
    )


@pytest.fixture
def patient(clinic, referrer):
    return PatientFactory(
        organization=clinic,
        given_name="Maria",
        family_name="Lopez",
        phone="617-555-0100",
        email="maria@example.org",
        zip_code="02118",
        registered_by=referrer,
    )


@pytest.fixture
def sent(patient, service, referrer):
    """A referral from the clinic to the food bank's pantry, just sent."""
    return referral(patient, service, referrer)
