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

    assert (
        list(Service.objects.order_by("hsds_id").values_list("hsds_id", "name", "capacity"))
        == first
    )
    assert Location.objects.count() == 24
    assert ServiceNeed.objects.exists()
    assert Schedule.objects.filter(closes_at__lt=models_f("opens_at")).exists()  # overnight hours


def models_f(name):
    from django.db.models import F

    return F(name)


@pytest.mark.usefixtures("taxonomy")
def test_generated_services_are_named_for_where_they_are_and_their_terms_belong_together():
    generate_directory(300, seed=3)

    services = Service.objects.prefetch_related("service_at_locations__location", "taxonomy_terms")
    for service in services:
        cities = {sal.location.city for sal in service.service_at_locations.all()}
        assert service.name.rsplit(" – ", 1)[1] in cities, service.name
        categories = {term.code.split(".")[0] for term in service.taxonomy_terms.all()}
        assert len(categories) == 1, (service.name, categories)
    assert sum(service.taxonomy_terms.count() == 2 for service in services) > 30  # some have two
    names = list(Organization.objects.values_list("name", flat=True))
    assert len(set(names)) == len(names)
    assert any(not name[-1].isdigit() for name in names)  # a number only where a name repeats
