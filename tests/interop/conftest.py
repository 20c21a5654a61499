from __future__ import annotations

import pytest

from interop.models import EhrConnection
from tests.factories import PatientFactory, ScreeningFactory, answer_all
from tests.fhir_server import fixture as fhir_fixtures
from tests.screening.conftest import NEGATIVE_AHC

# The real FHIR server (Medplum's engine in Node): started once, emptied for each test.
fhir_server = fhir_fixtures.fhir_server
fhir = fhir_fixtures.fhir

MRN_SYSTEM = "http://riverside.example.org/mrn"

# Food insecurity (the Hunger Vital Sign answer) and housing instability, the rest negative.
POSITIVE_ANSWERS = {**NEGATIVE_AHC, "88122-7": "LA6729-3", "71802-3": "LA31995-6"}


@pytest.fixture
def connection(clinic, fhir):
    return EhrConnection.objects.create(organization=clinic, base_url=fhir.base_url)


@pytest.fixture
def patient(clinic, referrer):
    return PatientFactory(
        organization=clinic,
        given_name="Rosa",
        family_name="Diaz",
        sex="female",
        mrn="MRN-1001",
        mrn_system=MRN_SYSTEM,
        registered_by=referrer,
    )


def completed_screening(patient, by, answers=None):
    screening = ScreeningFactory(patient=patient, started_by=by)
    answer_all(screening, answers or POSITIVE_ANSWERS)
    screening.complete(by=by)
    return screening
