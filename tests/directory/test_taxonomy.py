from __future__ import annotations

import pytest

from directory.models import TaxonomyTerm
from directory.taxonomy import term_choices

pytestmark = pytest.mark.usefixtures("taxonomy")

INDENT = "\u2003"


def test_each_service_type_in_the_list_is_under_its_own_parent():
    terms = {t.pk: t for t in TaxonomyTerm.objects.filter(vocabulary="handoff")}
    choices = term_choices()[1:]  # after "Any type of service"
    top = None
    for value, label in choices:
        term = terms[int(value)]
        if label.startswith(INDENT):
            assert label == INDENT + term.name
            assert top is not None and term.parent_id == top.pk, (term.code, top and top.code)
        else:
            assert label == term.name
            assert term.parent_id is None, term.code
            top = term

    two_levels = [t for t in terms.values() if t.parent is None or t.parent.parent is None]
    assert sorted(int(value) for value, _ in choices) == sorted(t.pk for t in two_levels)


def test_care_lists_its_own_children_after_care_coordinations():
    labels = [label for _, label in term_choices()]
    care = labels.index("Care")

    assert labels[care + 1 : care + 7] == [
        INDENT + name
        for name in (
            "Adult Day Care",
            "Child Care",
            "End-of-Life Planning",
            "Family Support",
            "In-Home Support",
            "Senior Services",
        )
    ]
    assert labels.index("Care Coordination") == care + 7  # the next sibling, by name
