"""The FHIR API for EHRs: bearer tokens per organization, every call audited, errors as
OperationOutcome.

Only ``metadata`` exists for now, and the CapabilityStatement says exactly that: reading and
searching referrals (Task, ServiceRequest, Procedure, Consent) and inbound Bundles arrive
with the referral sync, each added to the statement when it is routed.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from fhirclient.models.capabilitystatement import CapabilityStatement

from accounts.models import AuditEvent
from interop.models import ApiClient

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
JSON_FORMATS = {"json", "application/json", "application/fhir+json"}
AUDIT_ACTION = AuditEvent.Action.API_CALL
RELEASED = "2026-11-23"


class FhirApiError(Exception):
    def __init__(self, status: int, code: str, text: str, headers: dict | None = None):
        super().__init__(text)
        self.status = status
        self.code = code
        self.text = text
        self.headers = headers or {}


def operation_outcome(code: str, text: str, severity: str = "error") -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "details": {"text": text}}],
    }


def fhir_response(body: dict, status: int = 200, headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body), status=status, content_type=f"{FHIR_JSON}; charset=utf-8"
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def authenticate(request: HttpRequest, *, required: bool) -> ApiClient | None:
    """The API client named by ``Authorization: Bearer <token>``.

    No header: None, or 401 when ``required``. A header with an unknown or revoked token is
    always a 401: a caller that tried to sign in should know it did not work.
    """
    header = request.headers.get("Authorization", "")
    if not header:
        if required:
            raise FhirApiError(
                401, "login", "A bearer token is required.", {"WWW-Authenticate": "Bearer"}
            )
        return None
    scheme, _sep, token = header.partition(" ")
    client = ApiClient.authenticate(token.strip()) if scheme.lower() == "bearer" else None
    if client is None:
        raise FhirApiError(
            401,
            "login",
            "The bearer token is unknown or revoked.",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return client


def _check_format(request: HttpRequest) -> None:
    wanted = request.GET.get("_format")
    if wanted and wanted not in JSON_FORMATS:
        raise FhirApiError(406, "not-supported", "Only JSON is supported (_format=json).")
    accept = request.headers.get("Accept", "")
    if accept and not any(
        kind in accept for kind in ("json", "*/*", "application/*")
    ):
        raise FhirApiError(406, "not-supported", "Only JSON is supported (application/fhir+json).")


def fhir_endpoint(*, methods: tuple[str, ...], auth_required: bool) -> Callable:
    """A FHIR API view: method check, bearer auth, audit of every authenticated call, and
    every error answered as an OperationOutcome."""

    def decorator(view: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            client = None
            try:
                client = authenticate(request, required=auth_required)
                if request.method not in methods:
                    raise FhirApiError(
                        405,
                        "not-supported",
                        f"{request.method} is not supported here.",
                        {"Allow": ", ".join(methods)},
                    )
                _check_format(request)
                response = view(request, client, *args, **kwargs)
            except FhirApiError as error:
                response = fhir_response(
                    operation_outcome(error.code, error.text), error.status, error.headers
                )
            except Exception:
                logger.exception("FHIR API error on %s", request.path)
                response = fhir_response(
                    operation_outcome("exception", "The server failed to answer this request."),
                    500,
                )
            if client is not None:
                AuditEvent.record(
                    organization=client.organization,
                    actor=None,
                    actor_organization=client.organization,
                    action=AUDIT_ACTION,
                    obj=client,
                    detail=f"{request.method} {request.get_full_path()} → {response.status_code}",
                )
            return response

        return wrapped

    return decorator


def _software_version() -> str:
    try:
        return version("handoff")
    except PackageNotFoundError:
        return "unknown"


def capability_statement(base_url: str) -> dict:
    """What this API supports today: the statement itself, behind bearer tokens. Nothing else."""
    statement = CapabilityStatement(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": RELEASED,
            "publisher": "Handoff",
            "kind": "instance",
            "software": {"name": "Handoff", "version": _software_version()},
            "implementation": {
                "description": "Handoff closed-loop referral portal, FHIR R4 API",
                "url": base_url,
            },
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "documentation": (
                        "Only this CapabilityStatement is served for now. Calls carry "
                        "Authorization: Bearer <token>, issued to an API client of one "
                        "organization by that organization's admin; every call is audited."
                    ),
                    "security": {
                        "cors": False,
                        "description": "Bearer tokens issued per organization; revocable.",
                    },
                }
            ],
        }
    )
    return statement.as_json()


@fhir_endpoint(methods=("GET", "HEAD"), auth_required=False)
def metadata(request: HttpRequest, client: ApiClient | None) -> HttpResponse:
    return fhir_response(capability_statement(request.build_absolute_uri("/fhir/")))


@fhir_endpoint(methods=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"), auth_required=False)
def not_supported(request: HttpRequest, client: ApiClient | None, path: str) -> HttpResponse:
    raise FhirApiError(
        404,
        "not-supported",
        f"'{path}' is not supported by this server; GET metadata says what is.",
    )
