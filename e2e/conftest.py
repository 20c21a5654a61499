"""Browser tests: a live daphne server (HTTP + websockets) on the test database, driven by
Debian's Chromium through Playwright.

- ``live_url``: base URL of the live server. Data made in a test body with factories is
  committed (``transactional_db``) so the server process sees it.
- ``page`` / ``new_page``: Playwright pages in fresh browser contexts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import partial
from pathlib import Path

import pytest

# Sync Playwright runs an event loop in the test thread; the ORM calls in test bodies are safe
# because nothing else uses that loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            # Every browser test needs committed data: the server is another process.
            item.add_marker(pytest.mark.django_db(transaction=True))
    # Browser tests last, whatever order the paths were given in: the session's Playwright
    # keeps its event loop in the main thread until the run ends, and a later test calling
    # async_to_sync there (the live-update tests) would fail.
    items.sort(key=lambda item: "e2e" in str(item.fspath))


def _chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.exit(
            "Chromium was not found. Install it with: sudo apt-get install -y chromium "
            "(or set CHROMIUM=/path/to/chromium).",
            returncode=2,
        )
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": _chromium_path(),
        "args": CHROMIUM_FLAGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def mail_dir():
    path = Path(tempfile.mkdtemp(prefix="handoff-e2e-mail-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _server_setup(mail_dir: str) -> None:
    """Runs in the server process before it serves: its email goes to files the tests read."""
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = mail_dir
    # Every browser test signs in from 127.0.0.1, faster than people do: allauth's default of
    # 30 sign-ins a minute per address answered a fast run with "429 Too Many Requests". The
    # limit on failed sign-ins stays (tests/test_admin_and_auth.py checks it).
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "1000/m/ip"}


def _make_application():
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from handoff.asgi import application

    # Serve static files (USWDS, htmx) from the finders, as runserver would.
    return ASGIStaticFilesHandler(application)


def _check_redis() -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.exit(f"REDIS_URL is set but Redis does not answer: {exc}", returncode=2)


@pytest.fixture(scope="session")
def live_server_process(django_db_setup, django_db_blocker, mail_dir):
    from daphne.testing import DaphneProcess
    from django.conf import settings

    from handoff.db import close_connections_before_fork

    _check_redis()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1", "localhost"]
    with django_db_blocker.unblock():
        # The child is forked: it must not share the parent's open database sockets.
        close_connections_before_fork()
        process = DaphneProcess(
            "127.0.0.1", _make_application, setup=partial(_server_setup, str(mail_dir))
        )
        process.daemon = True
        process.start()
        if not process.ready.wait(timeout=30):
            process.terminate()
            pytest.exit("The live server did not start within 30 seconds.", returncode=2)
        if not process.errors.empty():
            error, trace = process.errors.get(False)
            pytest.exit(f"The live server failed to start: {error}\n{trace}", returncode=2)
    yield process
    process.terminate()
    process.join(timeout=10)


@pytest.fixture
def live_url(live_server_process, transactional_db, mail_dir) -> str:
    for old in mail_dir.glob("*"):
        old.unlink()
    return f"http://127.0.0.1:{live_server_process.port.value}"


@pytest.fixture
def new_page(browser, live_url):
    """Open pages in separate browser contexts (two people at once)."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()
