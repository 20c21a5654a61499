from __future__ import annotations

import pytest

from accounts.models import Role
from tests.factories import ClinicFactory, OrganizationFactory, member


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with empty caches: "local" (the search form keeps the taxonomy's list
    there) and "default" (allauth counts failed sign-ins there: in Redis with REDIS_URL)."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    for alias in ("default", "local"):
        cache = caches[alias]
        if isinstance(cache, RedisCache):
            # Only this run's keys (handoff.pytest_env gives the run a prefix of its own), not
            # the whole database: the same Redis holds the channel layer's groups.
            redis = cache._cache.get_client(write=True)
            keys = list(redis.scan_iter(match=cache.make_key("*")))
            if keys:
                redis.delete(*keys)
        else:
            cache.clear()


@pytest.fixture(autouse=True)
def _english_after():
    """Each test leaves the thread in the default language: a request in Spanish activates it,
    and nothing puts it back (LocaleMiddleware only activates), so the next test would see it."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture
def clinic(db):
    return ClinicFactory(name="Riverside Clinic")


@pytest.fixture
def food_bank(db):
    return OrganizationFactory(name="Eastside Food Bank")


@pytest.fixture
def other_org(db):
    return OrganizationFactory(name="Elsewhere Services")


@pytest.fixture
def referrer(clinic):
    return member(clinic, Role.REFERRER, full_name="Rita Referrer")


@pytest.fixture
def clinic_admin(clinic):
    return member(clinic, Role.ORG_ADMIN, full_name="Ada Admin")


@pytest.fixture
def staff(food_bank):
    return member(food_bank, Role.CBO_STAFF, full_name="Stan Staff")


@pytest.fixture
def food_admin(food_bank):
    return member(food_bank, Role.ORG_ADMIN, full_name="Fay Admin")


@pytest.fixture
def stranger(other_org):
    """Someone at another organization: sees none of the cast's data."""
    return member(other_org, Role.ORG_ADMIN, full_name="Sol Stranger")
