from __future__ import annotations

from datetime import time

import pytest

from directory.models import TaxonomyTerm
from directory.taxonomy import load_taxonomy
from tests.factories import ScheduleFactory, directory_service


@pytest.fixture
def taxonomy(db):
    """The shipped taxonomy (migrations load it; transactional tests flush it away)."""
    if not TaxonomyTerm.objects.filter(vocabulary="handoff").exists():
        load_taxonomy()


@pytest.fixture
def pantry(food_bank):
    """A weekly pantry near 02118, open Tuesdays and Thursdays 10–6, in English and Spanish."""
    service = directory_service(
        name="Weekly Food Pantry",
        organization=food_bank,
        terms=("food.food-pantry",),
        at=(42.3399, -71.0752),
        languages=("en", "es"),
    )
    ScheduleFactory(service=service, byday="TU,TH", opens_at=time(10), closes_at=time(18))
    return service
