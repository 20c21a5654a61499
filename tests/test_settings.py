"""Settings come from the environment, and bad values stop the portal with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, handoff.settings as s
print(json.dumps({
    "debug": s.DEBUG,
    "secret": s.SECRET_KEY,
    "hosts": s.ALLOWED_HOSTS,
    "engine": s.DATABASES["default"]["ENGINE"],
    "db_name": s.DATABASES["default"]["NAME"],
    "db_host": s.DATABASES["default"].get("HOST"),
    "test_name": s.DATABASES["default"]["TEST"]["NAME"],
    "layer": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "layer_hosts": s.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts"),
    "email": s.EMAIL_BACKEND,
    "tz": s.TIME_ZONE,
    "pool": s.DATABASES["default"].get("OPTIONS", {}).get("pool"),
    "conn_max_age": s.DATABASES["default"]["CONN_MAX_AGE"],
    "caches": s.CACHES,
}))
"""


def load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "REDIS_URL",
            "CACHE_PREFIX",
            "EMAIL_BACKEND",
            "TIME_ZONE",
            "TEST_DATABASE_NAME",
            "DB_POOL",
            "DB_POOL_MIN_SIZE",
            "DB_POOL_MAX_SIZE",
            "DB_POOL_TIMEOUT",
            "DB_CONN_MAX_AGE",
            "SEARCH_PARALLEL_WORKERS",
        }
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def settings_with(**env: str) -> dict:
    result = load_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = load_settings()
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_gives_a_development_key_sqlite_and_in_memory_layer():
    s = settings_with(DEBUG="true")
    assert s["debug"] is True
    assert s["secret"].startswith("django-insecure-")
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["db_name"].endswith("handoff.sqlite3")
    assert s["test_name"].endswith("test_handoff.sqlite3")
    assert s["layer"] == "channels.layers.InMemoryChannelLayer"
    # One process: both caches in its memory.
    assert {alias: c["BACKEND"] for alias, c in s["caches"].items()} == {
        "default": "django.core.cache.backends.locmem.LocMemCache",
        "local": "django.core.cache.backends.locmem.LocMemCache",
    }
    assert s["email"] == "django.core.mail.backends.console.EmailBackend"
    assert "127.0.0.1" in s["hosts"]


def test_database_url_and_redis_url_choose_postgresql_and_redis():
    s = settings_with(
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://postgres@db.internal:5432/handoff",
        REDIS_URL="redis://cache.internal:6379/2",
        ALLOWED_HOSTS="handoff.example.org, www.handoff.example.org",
        TIME_ZONE="America/Chicago",
    )
    assert s["debug"] is False
    assert s["engine"] == "django.db.backends.postgresql"
    assert (s["db_name"], s["db_host"]) == ("handoff", "db.internal")
    # Set explicitly so the live-server child uses the same test database (channels#2176).
    assert s["test_name"] == "test_handoff"
    assert s["layer"] == "channels_redis.core.RedisChannelLayer"
    assert s["layer_hosts"] == ["redis://cache.internal:6379/2"]
    # The shared cache in the same Redis (allauth's counts of failed sign-ins reach every
    # process); the search's own keeps stay in each process's memory.
    assert s["caches"]["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache.internal:6379/2",
        "KEY_PREFIX": "handoff",
    }
    assert s["caches"]["local"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert s["hosts"] == ["handoff.example.org", "www.handoff.example.org"]
    assert s["tz"] == "America/Chicago"


def test_postgresql_uses_a_connection_pool_unless_told_otherwise():
    url = "postgres://postgres@db.internal:5432/handoff"
    s = settings_with(SECRET_KEY="x" * 50, DATABASE_URL=url)
    assert s["pool"] == {"min_size": 2, "max_size": 10, "timeout": 10}
    assert s["conn_max_age"] == 0
    s = settings_with(SECRET_KEY="x" * 50, DATABASE_URL=url, DB_POOL_MAX_SIZE="30")
    assert s["pool"]["max_size"] == 30
    # Persistent connections and the pool exclude each other: asking for one drops the other.
    s = settings_with(SECRET_KEY="x" * 50, DATABASE_URL=url, DB_CONN_MAX_AGE="60")
    assert (s["pool"], s["conn_max_age"]) == (None, 60)
    assert settings_with(SECRET_KEY="x" * 50, DATABASE_URL=url, DB_POOL="false")["pool"] is None
    assert settings_with(DEBUG="true")["pool"] is None  # SQLite: no pool


def test_a_value_that_is_not_a_boolean_is_refused_by_name():
    result = load_settings(DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_a_negative_number_of_search_workers_is_refused_by_name():
    result = load_settings(DEBUG="true", SEARCH_PARALLEL_WORKERS="-1")
    assert result.returncode != 0
    assert "SEARCH_PARALLEL_WORKERS=-1 is below 0" in result.stderr
    assert settings_with(DEBUG="true", SEARCH_PARALLEL_WORKERS="0")["debug"] is True


def test_migrations_match_the_models():
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "true"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
