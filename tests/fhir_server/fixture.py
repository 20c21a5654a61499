"""pytest fixtures for the real FHIR test server (server.mjs beside this file).

``fhir_server`` (session) starts it with node on a free loopback port and yields a handle
with ``base_url``; ``stop()`` and ``start()`` take it down and bring it back on the same port,
keeping what it held, as an EHR that went away for a while. ``fhir`` (per test) is the same
server with its store emptied, so tests do not see each other's resources.

Install it first with ``make fhir-server`` (npm ci, pinned by package-lock.json).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

HERE = Path(__file__).resolve().parent
READY_TIMEOUT = 30.0


class FhirTestServer:
    def __init__(self, store: Path):
        self.store = store
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.session = requests.Session()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it answers /metadata."""
        if self.running:
            return
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not installed; the FHIR test server needs Node 20 or newer")
        if not (HERE / "node_modules" / "@medplum" / "fhir-router").is_dir():
            pytest.fail("The FHIR test server is not installed: run `make fhir-server`")
        self.process = subprocess.Popen(
            [node, str(HERE / "server.mjs"), "--port", str(self.port), "--store", str(self.store)],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
        line = self._first_line()
        if not line.startswith("listening on "):
            self.kill()
            pytest.fail(f"The FHIR test server did not start: {line!r}")
        self.port = int(line.split()[-1])
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                if self.session.get(f"{self.base_url}metadata", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail("The FHIR test server started but never answered /metadata")
            time.sleep(0.05)

    def _first_line(self) -> str:
        # Reading in a thread keeps a silent, hung node from hanging the test run.
        lines: list[str] = []
        reader = threading.Thread(
            target=lambda: lines.append(self.process.stdout.readline()), daemon=True
        )
        reader.start()
        reader.join(READY_TIMEOUT)
        return lines[0].strip() if lines else ""

    def stop(self) -> None:
        """Stop it (SIGTERM: it saves its store first); the port is kept for ``start()``."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    # --- helpers for assertions (plain HTTP, not the portal's client) ---

    def reset(self) -> None:
        self.session.post(f"{self.base_url}$reset", timeout=5).raise_for_status()

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` FHIR requests with ``status`` (an EHR having trouble)."""
        self.session.post(
            f"{self.base_url}$fail", json={"status": status, "count": count}, timeout=5
        ).raise_for_status()

    def require_auth(self, **config) -> None:
        """``bearer="…"``, or ``jwk=…, clientId=…, tokenUrl=…`` for SMART Backend Services."""
        self.session.post(f"{self.base_url}$auth", json=config, timeout=5).raise_for_status()

    def get(self, path: str) -> dict:
        response = self.session.get(f"{self.base_url}{path}", timeout=5)
        response.raise_for_status()
        return response.json()

    def search(self, resource_type: str, **params: str) -> list[dict]:
        query = f"?{urlencode(params)}" if params else ""
        bundle = self.get(f"{resource_type}{query}")
        return [entry["resource"] for entry in bundle.get("entry") or []]

    def history(self, resource_type: str, server_id: str) -> list[dict]:
        bundle = self.get(f"{resource_type}/{server_id}/_history")
        return [entry["resource"] for entry in bundle.get("entry") or []]


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory):
    server = FhirTestServer(tmp_path_factory.mktemp("fhir") / "store.json")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def fhir(fhir_server):
    """The FHIR server, running and empty, for one test."""
    fhir_server.start()
    fhir_server.reset()
    yield fhir_server
    fhir_server.start()  # a test that stopped it leaves it running for the next
