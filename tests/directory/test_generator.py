from __future__ import annotations

import pytest

from directory.generator import generate_directory
from directory.models import Location, Organization, Schedule, Service, ServiceNeed


@pytest.mark.usefixtures("taxonomy")
def test_generator_is_deterministic_for_a_seed():
    generate_directory(40, seed=7)
    first = list(Service.objects.order_by("hsds_id").values_list("hsds_id", "name", "capacity"))
    Organization.objects.all().delete()

    generate_directory(40, seed=7)

    assert list(Service.objects.order_by("hsds_id").values_list("hsds_id", "name", "capacity")) == first
    assert Location.objects.count() == 24
    assert ServiceNeed.objects.exists()
    assert Schedule.objects.filter(closes_at__lt=models_f("opens_at")).exists()  # overnight hours


def models_f(name):
    from django.db.models import F

    return F(name)
