"""Talking to an EHR's FHIR server with fhirclient: sign-in, timeouts, and what went wrong."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urljoin

import jwt
import requests
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.server import FHIRServer

from interop.models import EhrConnection, readable_error

FHIR_JSON = "application/fhir+json"
# Seconds to connect and to wait for an answer: a hung EHR must not hold the worker for long.
TIMEOUT = (5, 30)
FHIR_R4 = "4.0.1"
SMART_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class EhrError(Exception):
    """A call to the EHR that did not work; ``transient`` says whether trying again may help.

    Its text (str()) is English, for logs and the admin: the sender that stores it has no
    reader. Where it is one of Handoff's own messages, ``message`` is that message's id
    (marked with gettext_noop) and ``params`` its details, so readable() and the stored copy
    (translatable()) can say it in the reader's language.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        status: int | None = None,
        outcome: str = "",
        params: dict | None = None,
    ):
        self.message_id = message if params is not None else ""
        self.params = {
            key: value if isinstance(value, int) else str(value)
            for key, value in (params or {}).items()
        }
        text = message % self.params if params is not None else message
        super().__init__(text)
        self.transient = transient
        self.status = status
        # What the other side said, in its words (an OperationOutcome's text, an OAuth error).
        self.outcome = outcome or text

    def translatable(self) -> dict | None:
        """What the stored error needs to be shown in another language (None: not ours)."""
        return {"id": self.message_id, "params": self.params} if self.message_id else None

    def readable(self) -> str:
        """The error in the active language."""
        return readable_error(str(self), self.translatable())


def outcome_text(body: dict | None) -> str:
    """The human-readable part of an OperationOutcome (its issues' text, or their codes)."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ""
    parts = []
    for issue in body.get("issue") or []:
        text = (issue.get("details") or {}).get("text") or issue.get("diagnostics") or ""
        where = ", ".join(issue.get("expression") or issue.get("location") or [])
        text = text or issue.get("code", "")
        parts.append(f"{text} ({where})" if where else text)
    return "; ".join(p for p in parts if p)


def _error_from_response(response: requests.Response) -> EhrError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    text = outcome_text(body) or response.reason or str(status)
    # 408 and 429 say "later"; 5xx is the server's trouble. Any other 4xx means this request
    # will never work as it is: stop and show why.
    transient = status >= 500 or status in (408, 429)
    return EhrError(f"HTTP {status}: {text}", transient=transient, status=status, outcome=text)


class _TokenCache:
    """Access tokens from SMART Backend Services, kept per connection until just before expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple, tuple[str, float]] = {}

    def get(self, key: tuple) -> str | None:
        with self._lock:
            token, expires = self._tokens.get(key, ("", 0.0))
            return token if expires > time.monotonic() else None

    def put(self, key: tuple, token: str, lifetime: float) -> None:
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(lifetime - 60, lifetime / 2))

    def forget(self, key: tuple) -> None:
        with self._lock:
            self._tokens.pop(key, None)


_tokens = _TokenCache()


def client_assertion(connection: EhrConnection, *, now: float | None = None) -> str:
    """The signed JWT a SMART Backend Services client presents to the token endpoint."""
    issued = int(now if now is not None else time.time())
    headers = {"typ": "JWT"}
    if connection.key_id:
        headers["kid"] = connection.key_id
    return jwt.encode(
        {
            "iss": connection.client_id,
            "sub": connection.client_id,
            "aud": connection.token_url,
            "exp": issued + 300,
            "iat": issued,
            "jti": uuid.uuid4().hex,
        },
        connection.private_key_pem,
        algorithm=connection.algorithm,
        headers=headers,
    )


def _cache_key(connection: EhrConnection) -> tuple:
    # Any edit of the connection (a new key, another scope) makes a new token.
    return (connection.pk, connection.updated_at)


def access_token(connection: EhrConnection, session: requests.Session) -> str:
    key = _cache_key(connection)
    token = _tokens.get(key)
    if token:
        return token
    try:
        assertion = client_assertion(connection)
    except (ValueError, TypeError, jwt.PyJWTError) as error:
        raise EhrError(
            gettext_noop("The private key could not sign the request: %(error)s"),
            params={"error": error},
            transient=False,
        ) from error
    try:
        response = session.post(
            connection.token_url,
            data={
                "grant_type": "client_credentials",
                "scope": connection.scope,
                "client_assertion_type": SMART_ASSERTION_TYPE,
                "client_assertion": assertion,
            },
            headers={"Accept": "application/json"},
            timeout=TIMEOUT,
        )
    except requests.RequestException as error:
        raise EhrError(
            gettext_noop("The token endpoint could not be reached: %(error)s"),
            params={"error": error},
            transient=True,
        ) from error
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not body.get("access_token"):
        detail = body.get("error_description") or body.get("error") or response.reason
        raise EhrError(
            gettext_noop("The token endpoint refused the client: %(detail)s"),
            params={"detail": detail},
            transient=response.status_code >= 500,
            status=response.status_code,
        )
    _tokens.put(key, body["access_token"], float(body.get("expires_in") or 300))
    return body["access_token"]


class _Auth:
    """fhirclient's hook for signing requests (``can_sign_headers`` / ``signed_headers``)."""

    def __init__(self, connection: EhrConnection, session: requests.Session):
        self.connection = connection
        self.session = session

    def can_sign_headers(self) -> bool:
        return self.connection.auth_kind != EhrConnection.AuthKind.NONE

    def signed_headers(self, headers: dict) -> dict:
        if self.connection.auth_kind == EhrConnection.AuthKind.BEARER:
            token = self.connection.bearer_token
        else:
            token = access_token(self.connection, self.session)
        return {**headers, "Authorization": f"Bearer {token}"}


class EhrServer(FHIRServer):
    """fhirclient's FHIRServer with timeouts, extra headers, and errors turned into EhrError."""

    def __init__(self, connection: EhrConnection):
        # FHIRServer refuses base URLs under 11 characters; the form already checked the URL.
        super().__init__(None, base_uri="http://placeholder/")
        self.base_uri = connection.base_url.rstrip("/") + "/"
        self.aud = connection.base_url
        self.connection = connection
        self.auth = _Auth(connection, self.session)

    def _send(self, method: str, path: str, body: dict | None = None, headers=None):
        url = urljoin(self.base_uri, path)
        all_headers = {"Accept": FHIR_JSON, "Accept-Charset": "UTF-8"}
        if body is not None:
            all_headers["Content-Type"] = FHIR_JSON
        all_headers.update(headers or {})
        for retry_auth in (True, False):
            signed = (
                self.auth.signed_headers(all_headers)
                if self.auth.can_sign_headers()
                else all_headers
            )
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=signed,
                    data=json.dumps(body) if body is not None else None,
                    timeout=TIMEOUT,
                )
            except requests.RequestException as error:
                raise EhrError(
                    gettext_noop("The EHR could not be reached: %(error)s"),
                    params={"error": type(error).__name__},
                    transient=True,
                ) from error
            # An expired SMART token: forget it and sign in again, once.
            if (
                response.status_code == 401
                and retry_auth
                and self.connection.auth_kind == EhrConnection.AuthKind.SMART_BACKEND
            ):
                _tokens.forget(_cache_key(self.connection))
                continue
            break
        if response.status_code >= 400:
            raise _error_from_response(response)
        return response

    # fhirclient's models call these; the versions here add timeouts and EhrError.
    def _get(self, path, headers=None, nosign=False):
        return self._send("GET", path, headers=headers)

    def put_json(self, path, resource_json, nosign=False, headers=None):
        return self._send("PUT", path, resource_json, headers=headers)

    def post_json(self, path, resource_json, nosign=False, headers=None):
        return self._send("POST", path, resource_json, headers=headers)

    def delete_json(self, path, nosign=False):
        return self._send("DELETE", path)


def server_for(connection: EhrConnection) -> EhrServer:
    return EhrServer(connection)


@dataclass
class ConnectionReport:
    """What "Test connection" found, in words an admin can act on."""

    reachable: bool = False
    fhir_version: str = ""
    software: str = ""
    problems: list[str] = field(default_factory=list)
    # resource type -> (create, update, conditional update)
    resources: dict[str, tuple[bool, bool, bool]] = field(default_factory=dict)

    @property
    def is_r4(self) -> bool:
        return self.fhir_version == FHIR_R4

    def supports(self, resource_type: str) -> tuple[bool, bool, bool]:
        return self.resources.get(resource_type, (False, False, False))

    @property
    def ok(self) -> bool:
        return self.reachable and self.is_r4 and not self.problems


# What the portal sends today; the test connection checks exactly these.
SENT_TYPES = [
    "Patient",
    "QuestionnaireResponse",
    "Observation",
    "Condition",
    "ServiceRequest",
    "Task",
    "Procedure",
    "Consent",
]


def check_connection(connection: EhrConnection) -> ConnectionReport:
    """Read the CapabilityStatement and say what works for what the portal sends."""
    report = ConnectionReport()
    server = server_for(connection)
    try:
        capability = CapabilityStatement.read_from("metadata", server)
    except EhrError as error:
        report.problems.append(error.readable())
        return report
    except (FHIRValidationError, ValueError, KeyError, TypeError) as error:
        report.reachable = True
        report.problems.append(
            _("The server answered, but not with a valid CapabilityStatement: %(error)s")
            % {"error": str(error)[:300]}
        )
        return report
    report.reachable = True
    report.fhir_version = capability.fhirVersion or ""
    report.software = capability.software.name if capability.software else ""
    if not report.is_r4:
        report.problems.append(
            _("The server speaks FHIR %(version)s; the portal sends FHIR R4 (4.0.1).")
            % {"version": report.fhir_version or _("of an unknown version")}
        )
    servers = [r for r in capability.rest or [] if r.mode == "server"]
    for rest in servers:
        for resource in rest.resource or []:
            interactions = {i.code for i in resource.interaction or []}
            report.resources[resource.type] = (
                "create" in interactions,
                "update" in interactions,
                "update" in interactions and bool(resource.conditionalUpdate),
            )
    for resource_type in SENT_TYPES:
        create, update, conditional = report.supports(resource_type)
        if resource_type == "Patient":
            if not create:
                report.problems.append(
                    _("Patients cannot be created there; patients without a record would not sync.")
                )
        elif not conditional:
            report.problems.append(
                _("%(type)s does not support conditional update, so re-sending is not safe.")
                % {"type": resource_type}
            )
    return report
