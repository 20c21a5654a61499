"""The FHIR API for EHRs: bearer tokens per organization, every call audited, errors as
OperationOutcome, and a CapabilityStatement that lists exactly what is routed.

Reading and searching referrals is in ``interop.api_resources``; referrals sent in as a
transaction Bundle in ``interop.inbound``.
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
    def __init__(
        self,
        status: int,
        code: str,
        text: str,
        headers: dict | None = None,
        expression: str = "",
    ):
        super().__init__(text)
        self.status = status
        self.code = code
        self.text = text
        self.headers = headers or {}
        self.expression = expression


def operation_outcome(code: str, text: str, severity: str = "error", expression: str = "") -> dict:
    issue = {"severity": severity, "code": code, "details": {"text": text}}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


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
    if accept and not any(kind in accept for kind in ("json", "*/*", "application/*")):
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
                    operation_outcome(error.code, error.text, expression=error.expression),
                    error.status,
                    error.headers,
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


SEARCHES = {
    # type: (profile, [(parameter, type, what it means here)])
    "Task": (
        "SDOHCC-TaskForReferralManagement",
        [
            ("_lastUpdated", "date", "When the referral last changed (ge, gt, le, lt, eq, ne)."),
            ("status", "token", "Task.status."),
            (
                "owner",
                "reference",
                "The receiving organization: Organization/<HSDS id>, or "
                ":identifier=urn:handoff:hsds:organization|<HSDS id>.",
            ),
            ("requester", "reference", "The referring organization, named as owner is."),
            (
                "patient",
                "reference",
                "Patient/<id> of your organization's patients, or :identifier=<MRN system>|<MRN>.",
            ),
        ],
    ),
    "ServiceRequest": (
        "SDOHCC-ServiceRequest",
        [
            ("_lastUpdated", "date", "When the referral last changed."),
            ("status", "token", "active, completed, revoked (or draft, for the referring side)."),
            ("requester", "reference", "The referring organization."),
            ("performer", "reference", "The receiving organization."),
            ("patient", "reference", "The patient."),
        ],
    ),
    "Procedure": (
        "SDOHCC-Procedure",
        [
            ("_lastUpdated", "date", "When the referral last changed."),
            ("status", "token", "Always completed: outcomes of completed referrals."),
            ("performer", "reference", "The receiving organization."),
            ("patient", "reference", "The patient."),
        ],
    ),
    "Consent": (
        "SDOHCC-Consent",
        [
            ("_lastUpdated", "date", "When it was given or withdrawn."),
            ("status", "token", "active or inactive (withdrawn or ended)."),
            ("patient", "reference", "The patient."),
        ],
    ),
}
IG_PROFILE = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/"

API_DOCUMENTATION = (
    "Calls carry Authorization: Bearer <token>, issued to an API client of one organization by "
    "that organization's admin; every call is audited. An organization sees the referrals it "
    "sent and those sent to it (never another organization's drafts). Search results come "
    "oldest change first: poll Task?_lastUpdated=gt<the last meta.lastUpdated you saw>; page "
    "with _count (at most 200, 50 by default) and the Bundle's next link. Unknown search "
    "parameters are refused (400), never ignored. A referral is sent in by POSTing a "
    "transaction Bundle to the base URL: a ServiceRequest (status active, intent order, "
    "category with an SDOH category code), its Task (status requested, intent order, focus "
    "the ServiceRequest, owner the receiving organization by its HSDS id: identifier system "
    "urn:handoff:hsds:organization; the service, when the organization has several, in "
    "ServiceRequest.performer with identifier system urn:handoff:hsds:service), the patient "
    "(a Patient with the MRN as identifier, registered if new, or ServiceRequest.subject by "
    "identifier) and a Consent naming the receiving organization in provision.actor, unless "
    "one is on file."
)


def capability_statement(base_url: str) -> dict:
    """What this API really supports, and nothing more."""
    resources = []
    for resource_type, (profile, params) in SEARCHES.items():
        resources.append(
            {
                "type": resource_type,
                "profile": IG_PROFILE + profile,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "versioning": "versioned",
                "readHistory": False,
                "updateCreate": False,
                "conditionalRead": "not-supported",
                "searchParam": [
                    {"name": name, "type": kind, "documentation": text}
                    for name, kind, text in params
                ],
            }
        )
    resources.append(
        {
            "type": "Patient",
            "interaction": [{"code": "read"}],
            "documentation": "Only the organization's own patients, by the id in references.",
        }
    )
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
                    "documentation": API_DOCUMENTATION,
                    "security": {
                        "cors": False,
                        "description": "Bearer tokens issued per organization; revocable.",
                    },
                    "resource": resources,
                    "interaction": [
                        {
                            "code": "transaction",
                            "documentation": "Only to send a referral in (see above).",
                        }
                    ],
                }
            ],
        }
    )
    return statement.as_json()


@fhir_endpoint(methods=("GET", "HEAD"), auth_required=False)
def metadata(request: HttpRequest, client: ApiClient | None) -> HttpResponse:
    return fhir_response(capability_statement(request.build_absolute_uri("/fhir/")))


@fhir_endpoint(methods=("POST",), auth_required=True)
def transaction(request: HttpRequest, client: ApiClient) -> HttpResponse:
    """A transaction Bundle that sends a referral in (``interop.inbound``)."""
    from interop.inbound import receive

    if request.content_type not in ("application/fhir+json", "application/json"):
        raise FhirApiError(
            415, "not-supported", "Send the Bundle as JSON (Content-Type: application/fhir+json)."
        )
    status, body = receive(request, client)
    return fhir_response(body, status)


@fhir_endpoint(methods=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"), auth_required=False)
def not_supported(request: HttpRequest, client: ApiClient | None, path: str) -> HttpResponse:
    raise FhirApiError(
        404,
        "not-supported",
        f"'{path}' is not supported by this server; GET metadata says what is.",
    )
