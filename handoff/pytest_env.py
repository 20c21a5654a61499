"""Pytest plugin (loaded with ``-p handoff.pytest_env``): environment defaults for test runs.

It must run before pytest-django imports the settings, which is why it is a plugin and not a
conftest. Tests run with DEBUG off, as Django's test runner does, so they need a SECRET_KEY;
they talk to the live server over plain HTTP on loopback, so cookies cannot be Secure-only.
"""

from __future__ import annotations

import os
import uuid

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("SECURE_COOKIES", "false")
# Every test user gets a password; PBKDF2's 1,000,000 rounds would cost ~0.3 s each.
os.environ.setdefault("PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
# Key prefixes of its own per run, so stale Redis groups or cache entries (failed sign-ins
# counted by an earlier run) never reach us, and clearing the cache touches only this run's.
_RUN = f"handoff-test-{uuid.uuid4().hex[:8]}"
os.environ.setdefault("CHANNELS_PREFIX", _RUN)
os.environ.setdefault("CACHE_PREFIX", _RUN)
