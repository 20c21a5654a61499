from __future__ import annotations

import pytest

from tests.factories import PatientFactory, ScreeningFactory

NEGATIVE_AHC = {
    "71802-3": "LA31993-1",
    "96778-6": "LA9-3",
    "88122-7": "LA28398-8",
    "88123-5": "LA28398-8",
    "93030-5": "LA32-8",
    "96779-4": "LA32-8",
    "95618-5": "LA6270-8",
    "95617-7": "LA6270-8",
    "95616-9": "LA6270-8",
    "95615-1": "LA6270-8",
}


@pytest.fixture
def patient(clinic):
    return PatientFactory(
        organization=clinic, given_name="Rosa", family_name="Diaz", preferred_language="es"
    )


@pytest.fixture
def screening(patient, referrer):
    return ScreeningFactory(patient=patient, started_by=referrer)
