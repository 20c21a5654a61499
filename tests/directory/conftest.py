from __future__ import annotations

import pytest

from directory.models import TaxonomyTerm
from directory.taxonomy import load_taxonomy


@pytest.fixture
def taxonomy(db):
    """The shipped taxonomy (migrations load it; transactional tests flush it away)."""
    if not TaxonomyTerm.objects.filter(vocabulary="handoff").exists():
        load_taxonomy()
