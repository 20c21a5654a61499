from __future__ import annotations

import pytest

from directory.generator import generate_directory
from directory.models import (
    Location,
    Organization,
    Schedule,
    Service,
    ServiceNeed,
    ServiceTaxonomy,
    refresh_search_documents,
)
from directory.taxonomy import TermTree


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


@pytest.mark.usefixtures("taxonomy")
def test_generated_organizations_offer_what_their_kind_of_organization_does():
    from directory.generator import ORG_KINDS

    generate_directory(300, seed=3)

    kinds_seen = set()
    for organization in Organization.objects.prefetch_related("services__taxonomy_terms"):
        kind = next(k for k in ORG_KINDS if organization.name.rstrip("0123456789 ").endswith(k))
        kinds_seen.add(kind)
        for service in organization.services.all():
            for term in service.taxonomy_terms.all():
                # "Legal Collaborative" gives legal help, not groceries.
                assert term.code.split(".")[0] in ORG_KINDS[kind], (organization.name, term.code)
    assert len(kinds_seen) > 5
    # Together the kinds still cover every branch of the taxonomy, so every need finds services.
    from directory.models import TaxonomyTerm

    branches = set(
        TaxonomyTerm.objects.filter(vocabulary="handoff", parent=None).values_list(
            "code", flat=True
        )
    )
    assert {c for categories in ORG_KINDS.values() for c in categories} == branches


@pytest.mark.usefixtures("taxonomy")
def test_generated_search_documents_are_what_a_rebuild_writes():
    generate_directory(60, seed=5)
    generated = dict(Service.objects.values_list("pk", "search_document"))
    needs = sorted(ServiceNeed.objects.values_list("service_id", "category"))

    refresh_search_documents(Service.objects.all())

    assert dict(Service.objects.values_list("pk", "search_document")) == generated
    assert sorted(ServiceNeed.objects.values_list("service_id", "category")) == needs
    assert any(
        len(TermTree.load().indexed_names(ids)) > len(ids) for ids in _terms_by_service().values()
    )  # ancestors' names are there to compare


def _terms_by_service() -> dict[int, list[int]]:
    terms: dict[int, list[int]] = {}
    for service_id, term_id in ServiceTaxonomy.objects.order_by("pk").values_list(
        "service_id", "taxonomy_term_id"
    ):
        terms.setdefault(service_id, []).append(term_id)
    return terms
