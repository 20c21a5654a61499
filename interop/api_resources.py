"""Reading and searching the portal's referrals as FHIR: Task, ServiceRequest, Procedure,
Consent (and the referring organization's own Patients, by id).

Everything is built from the portal's data with the builders the outbound sync uses
(``interop.referral_fhir``), and limited to the calling client's organization: referrals it
sent, and referrals sent to it (never another organization's drafts). Search results come
oldest change first, so an EHR can poll ``Task?_lastUpdated=gt<the last one it saw>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from interop import referral_fhir
from interop.api import FhirApiError, fhir_endpoint, fhir_response
from interop.mapping import logical_reference, patient_identifier, patient_resource, portal_system
from interop.models import ApiClient, InboundReferral
from patients.models import Consent, Patient
from referrals.models import Referral
from referrals.transitions import OPEN, Side, Status

DEFAULT_COUNT = 50
MAX_COUNT = 200
# Search parameters every type takes, besides its own (CapabilityStatement lists them).
COMMON_PARAMETERS = {"_lastUpdated", "_count", "_offset", "_format", "_pretty"}
SEARCH_PARAMETERS = {
    "Task": {"status", "owner", "requester", "patient"},
    "ServiceRequest": {"status", "requester", "performer", "patient"},
    "Procedure": {"status", "performer", "patient"},
    "Consent": {"status", "patient"},
}
SERVICE_REQUEST_STATUSES = {
    "draft": [Status.DRAFT],
    "active": sorted(OPEN),
    "completed": [Status.COMPLETED],
    "revoked": [Status.CANCELLED, Status.REJECTED, Status.FAILED],
}
_LOCAL_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_CONSENT_ID = re.compile(r"^consent-(\d{1,18})$")


# --- what a client may see --------------------------------------------------------------


def visible_referrals(organization) -> QuerySet[Referral]:
    """Referrals the organization sent, and those sent to it (never someone else's draft)."""
    return Referral.objects.filter(
        Q(referring_organization=organization)
        | (Q(receiving_organization=organization) & ~Q(status=Status.DRAFT))
    )


def visible_consents(organization) -> QuerySet[Consent]:
    """Consents of the organization's own patients, and those behind referrals sent to it."""
    received = visible_referrals(organization).filter(receiving_organization=organization)
    return Consent.objects.filter(
        Q(patient__organization=organization)
        | Q(pk__in=received.filter(consent__isnull=False).values("consent_id"))
    )


def _side(referral: Referral, organization) -> str:
    return (
        Side.REFERRING if referral.referring_organization_id == organization.pk else Side.RECEIVING
    )


# --- presenting ---------------------------------------------------------------------------


def _patient_reference(patient: Patient, organization) -> dict:
    """The registering organization reads its patients here and knows them by its MRN; a
    receiving organization knows the person only by the portal's identifier."""
    if patient.organization_id == organization.pk:
        system, value = patient_identifier(patient)
        return {
            "reference": f"Patient/{patient.pk}",
            "identifier": {"system": system, "value": value},
            "display": patient.full_name,
        }
    return {
        "type": "Patient",
        "identifier": {"system": portal_system("patient"), "value": str(patient.pk)},
        "display": patient.full_name,
    }


def present(
    resource: dict,
    *,
    organization,
    patient: Patient,
    last_updated: datetime,
    version: int | str,
    extra_identifiers: list[dict] = (),
    hide_reasons: bool = False,
) -> dict:
    """A builder's resource as this API serves it: the portal's identifier beside its id,
    references an outside system can follow, and meta saying when it last changed."""
    from interop.mapping import references

    data = dict(resource)
    resource_type = data["resourceType"]
    identifier = {"system": portal_system(resource_type), "value": data["id"]}
    data["identifier"] = [identifier, *extra_identifiers]
    meta = dict(data.get("meta") or {})
    meta.pop("tag", None)
    meta["versionId"] = str(version)
    meta["lastUpdated"] = last_updated.isoformat()
    data["meta"] = meta
    if hide_reasons:
        data.pop("reasonReference", None)
    for reference in references(data):
        kind, _sep, local = reference["reference"].partition("/")
        if kind == "Patient":
            reference.clear()
            reference.update(_patient_reference(patient, organization))
        elif kind == "Condition":
            reference.clear()
            reference.update(logical_reference("Condition", local))
    return data


def _hide_reasons(referral: Referral, organization) -> bool:
    """The receiving side sees the needs only while the consent lets it (as in the portal)."""
    if _side(referral, organization) == Side.REFERRING:
        return False
    consent = referral.consent
    return consent is None or not consent.is_active() or not consent.share_needs


def _inbound_identifiers(inbound: InboundReferral | None, resource_type: str) -> list[dict]:
    if inbound is None:
        return []
    return [
        {"system": i["system"], "value": i["value"]}
        for i in inbound.identifiers
        if i.get("resourceType") == resource_type and i.get("value")
    ]


def render_referral(referral: Referral, resource_type: str, organization) -> dict:
    inbound = None
    if _side(referral, organization) == Side.REFERRING:
        inbound = getattr(referral, "inbound", None)
    if resource_type == "Task":
        built = referral_fhir.task(referral)
    elif resource_type == "ServiceRequest":
        built = referral_fhir.service_request(referral)
    else:
        built = referral_fhir.procedure(referral)
    return present(
        built.as_json(),
        organization=organization,
        patient=referral.patient,
        last_updated=referral.updated_at,
        version=referral.version,
        extra_identifiers=_inbound_identifiers(inbound, resource_type),
        hide_reasons=_hide_reasons(referral, organization),
    )


def _consent_changed_at(consent: Consent) -> datetime:
    return consent.withdrawn_at or consent.given_at


def render_consent(consent: Consent, organization) -> dict:
    return present(
        referral_fhir.consent(consent).as_json(),
        organization=organization,
        patient=consent.patient,
        last_updated=_consent_changed_at(consent),
        version=2 if consent.withdrawn_at else 1,
    )


def render_patient(patient: Patient, organization) -> dict:
    data = patient_resource(patient)
    data["id"] = str(patient.pk)
    data["identifier"] = [
        *data["identifier"],
        {"system": portal_system("patient"), "value": str(patient.pk)},
    ][: 2 if patient.mrn else 1]
    data["meta"] = {"versionId": "1", "lastUpdated": patient.updated_at.isoformat()}
    return data


# --- reading ------------------------------------------------------------------------------


def _not_found(resource_type: str, resource_id: str) -> FhirApiError:
    return FhirApiError(404, "not-found", f"{resource_type}/{resource_id} is not known here.")


def _referral_queryset(organization) -> QuerySet[Referral]:
    return (
        visible_referrals(organization)
        .select_related(
            "patient",
            "service",
            "referring_organization",
            "receiving_organization",
            "consent",
            "inbound",
        )
        .prefetch_related("needs")
    )


@fhir_endpoint(methods=("GET", "HEAD"), auth_required=True)
def read(
    request: HttpRequest, client: ApiClient, resource_type: str, resource_id: str
) -> HttpResponse:
    organization = client.organization
    if resource_type == "Patient":
        patient = (
            Patient.objects.for_organization(organization).filter(pk=resource_id).first()
            if resource_id.isdigit() and len(resource_id) < 19
            else None
        )
        if patient is None:
            raise _not_found(resource_type, resource_id)
        return _resource_response(render_patient(patient, organization))
    if resource_type == "Consent":
        match = _CONSENT_ID.match(resource_id)
        consent = (
            visible_consents(organization)
            .select_related("patient", "patient__organization", "organization")
            .filter(pk=int(match[1]))
            .first()
            if match
            else None
        )
        if consent is None:
            raise _not_found(resource_type, resource_id)
        return _resource_response(render_consent(consent, organization))
    referral = None
    if _is_uuid(resource_id):
        referrals = _referral_queryset(organization).filter(identifier=resource_id)
        if resource_type == "Procedure":
            referrals = referrals.filter(status=Status.COMPLETED)
        referral = referrals.first()
    if referral is None:
        raise _not_found(resource_type, resource_id)
    return _resource_response(render_referral(referral, resource_type, organization))


def _resource_response(data: dict) -> HttpResponse:
    meta = data["meta"]
    return fhir_response(
        data,
        headers={
            "ETag": f'W/"{meta["versionId"]}"',
            "Last-Modified": _http_date(meta["lastUpdated"]),
        },
    )


def _http_date(iso: str) -> str:
    from django.utils.http import http_date

    return http_date(datetime.fromisoformat(iso).timestamp())


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


# --- searching ----------------------------------------------------------------------------

_DATE = re.compile(
    r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb)?"
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?P<fraction>\.\d{1,9})?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


@dataclass(frozen=True)
class DateRange:
    """A FHIR search date and the period its precision implies: [start, end)."""

    prefix: str
    start: datetime
    end: datetime

    def q(self, field: str) -> Q:
        if self.prefix == "eq":
            return Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})
        if self.prefix == "ne":
            return ~Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})
        if self.prefix in ("gt", "sa"):
            return Q(**{f"{field}__gte": self.end})
        if self.prefix in ("lt", "eb"):
            return Q(**{f"{field}__lt": self.start})
        if self.prefix == "ge":
            return Q(**{f"{field}__gte": self.start})
        return Q(**{f"{field}__lt": self.end})  # le


def parse_date_parameter(value: str) -> DateRange:
    """``[prefix]YYYY[-MM[-DD[Thh:mm[:ss[.fff]][zone]]]]``; a time without a zone is the
    server's local time. Raises FhirApiError (400) for anything else."""
    # A "+" of a time zone that the caller forgot to encode arrives as a space.
    match = _DATE.match(value.strip().replace(" ", "+"))
    if not match:
        raise FhirApiError(400, "invalid", f"'{value[:100]}' is not a FHIR date or dateTime.")
    parts = match.groupdict()
    try:
        year, month, day = int(parts["year"]), int(parts["month"] or 1), int(parts["day"] or 1)
        hour, minute = int(parts["hour"] or 0), int(parts["minute"] or 0)
        second = int(parts["second"] or 0)
        fraction = parts["fraction"] or ""
        micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
        naive = datetime(year, month, day, hour, minute, second, micro)
    except ValueError as error:
        raise FhirApiError(
            400, "invalid", f"'{value[:100]}' is not a valid date: {error}."
        ) from None
    zone = parts["zone"]
    if zone == "Z":
        start = naive.replace(tzinfo=UTC)
    elif zone:
        start = datetime.fromisoformat(naive.isoformat() + zone)
    else:
        start = timezone.make_aware(naive)
    if fraction:
        end = start + timedelta(microseconds=1)
    elif parts["second"]:
        end = start + timedelta(seconds=1)
    elif parts["minute"]:
        end = start + timedelta(minutes=1)
    elif parts["day"]:
        end = start + timedelta(days=1)
    elif parts["month"]:
        end = _add_months(start, 1)
    else:
        end = _add_months(start, 12)
    return DateRange(parts["prefix"] or "eq", start, end)


def _add_months(when: datetime, months: int) -> datetime:
    month = when.month - 1 + months
    return when.replace(year=when.year + month // 12, month=month % 12 + 1)


def _values(raw: str) -> list[str]:
    """A parameter's comma-separated alternatives (``\\,`` is a literal comma)."""
    parts = re.split(r"(?<!\\),", raw)
    return [p.replace("\\,", ",").strip() for p in parts if p.strip()]


def _token(value: str) -> tuple[str | None, str]:
    """``system|code`` → (system, code); ``code`` → (None, code); ``|code`` → ("", code)."""
    if "|" in value:
        system, _sep, code = value.partition("|")
        return system, code
    return None, value


def _organization_q(field: str, modifier: str, raw: str) -> Q:
    """owner / requester / performer: ``Organization/<HSDS id>``, ``<HSDS id>``, or with
    ``:identifier``, ``urn:handoff:hsds:organization|<HSDS id>``."""
    q = Q(pk__in=[])
    for value in _values(raw):
        if modifier == "identifier":
            system, code = _token(value)
            if system not in (None, referral_fhir.HSDS_ORGANIZATION):
                continue
        elif modifier == "":
            kind, _sep, code = value.rpartition("/")
            if kind not in ("", "Organization"):
                continue
        else:
            raise FhirApiError(400, "not-supported", f"The modifier :{modifier} is not supported.")
        if _is_uuid(code):
            q |= Q(**{f"{field}__hsds_id": code})
    return q


def _patient_q(field: str, modifier: str, raw: str, organization) -> Q:
    """patient: ``Patient/<id>`` or ``<id>`` (the ids of the organization's own patients), or
    with ``:identifier``, the MRN (``system|value``) or the portal's ``urn:handoff:patient|<id>``."""
    q = Q(pk__in=[])
    for value in _values(raw):
        if modifier == "identifier":
            system, code = _token(value)
            if system == portal_system("patient"):
                if code.isdigit() and len(code) < 19:
                    q |= Q(**{f"{field}__pk": int(code)})
                continue
            mrn = Q(**{f"{field}__mrn": code, f"{field}__organization": organization})
            if system:
                mrn &= Q(**{f"{field}__mrn_system": system})
            q |= mrn
        elif modifier == "":
            kind, _sep, code = value.rpartition("/")
            if kind in ("", "Patient") and code.isdigit() and len(code) < 19:
                q |= Q(**{f"{field}__pk": int(code), f"{field}__organization": organization})
        else:
            raise FhirApiError(400, "not-supported", f"The modifier :{modifier} is not supported.")
    return q


def _parameters(request: HttpRequest, resource_type: str) -> list[tuple[str, str, str]]:
    """(name, modifier, value) for every parameter, refusing what is not supported: a search
    that silently ignored a filter would hand an EHR more than it asked for."""
    allowed = SEARCH_PARAMETERS[resource_type] | COMMON_PARAMETERS
    result = []
    for key in request.GET:
        name, _sep, modifier = key.partition(":")
        if name not in allowed:
            raise FhirApiError(
                400,
                "not-supported",
                f"The search parameter '{key[:100]}' is not supported for {resource_type}; "
                "GET metadata lists those that are.",
            )
        if modifier and not (
            name in ("owner", "requester", "performer", "patient") and modifier == "identifier"
        ):
            raise FhirApiError(
                400, "not-supported", f"The modifier in '{key[:100]}' is not supported."
            )
        for value in request.GET.getlist(key):
            if "\x00" in value:
                raise FhirApiError(400, "invalid", f"The value of '{key[:100]}' is not valid.")
            result.append((name, modifier, value))
    return result


def _integer(name: str, value: str, *, low: int, high: int | None = None) -> int:
    if not value.isdigit() or len(value) > 9:
        raise FhirApiError(400, "invalid", f"{name} must be a whole number.")
    number = int(value)
    if number < low:
        raise FhirApiError(400, "invalid", f"{name} must be at least {low}.")
    return min(number, high) if high is not None else number


def _filter_referrals(qs, resource_type: str, params, organization):
    for name, modifier, value in params:
        if name == "_lastUpdated":
            qs = qs.filter(parse_date_parameter(value).q("updated_at"))
        elif name == "status":
            statuses: list[str] = []
            for code in _values(value):
                _system, code = _token(code)
                if resource_type == "Task":
                    statuses += [code] if code in Status.values else []
                elif resource_type == "ServiceRequest":
                    statuses += SERVICE_REQUEST_STATUSES.get(code, [])
                elif code == "completed":
                    statuses.append(Status.COMPLETED)
            qs = qs.filter(status__in=statuses)
        elif name == "owner" or (
            name == "performer" and resource_type in ("ServiceRequest", "Procedure")
        ):
            qs = qs.filter(_organization_q("receiving_organization", modifier, value))
        elif name == "requester":
            qs = qs.filter(_organization_q("referring_organization", modifier, value))
        elif name == "patient":
            qs = qs.filter(_patient_q("patient", modifier, value, organization))
    return qs


def _filter_consents(qs, params, organization):
    today = timezone.localdate()
    for name, modifier, value in params:
        if name == "_lastUpdated":
            qs = qs.filter(parse_date_parameter(value).q("changed_at"))
        elif name == "status":
            q = Q(pk__in=[])
            for code in _values(value):
                _system, code = _token(code)
                if code == "active":
                    q |= Q(withdrawn_at__isnull=True, expires_on__gte=today)
                elif code == "inactive":
                    q |= Q(withdrawn_at__isnull=False) | Q(expires_on__lt=today)
            qs = qs.filter(q)
        elif name == "patient":
            qs = qs.filter(_patient_q("patient", modifier, value, organization))
    return qs


@fhir_endpoint(methods=("GET", "HEAD"), auth_required=True)
def search(request: HttpRequest, client: ApiClient, resource_type: str) -> HttpResponse:
    organization = client.organization
    params = _parameters(request, resource_type)
    count, offset = DEFAULT_COUNT, 0
    for name, _modifier, value in params:
        if name == "_count":
            count = _integer("_count", value, low=0, high=MAX_COUNT)
        elif name == "_offset":
            offset = _integer("_offset", value, low=0)
    if resource_type == "Consent":
        qs = visible_consents(organization).annotate(
            changed_at=Coalesce("withdrawn_at", "given_at")
        )
        qs = _filter_consents(qs, params, organization).order_by("changed_at", "pk")
        total = qs.count()
        rows = list(
            qs.select_related("patient", "patient__organization", "organization")[
                offset : offset + count
            ]
        )
        resources = [render_consent(c, organization) for c in rows]
    else:
        qs = visible_referrals(organization)
        if resource_type == "Procedure":
            qs = qs.filter(status=Status.COMPLETED)
        qs = _filter_referrals(qs, resource_type, params, organization).order_by("updated_at", "pk")
        total = qs.count()
        ids = list(qs.values_list("pk", flat=True)[offset : offset + count])
        rows = sorted(
            _referral_queryset(organization).filter(pk__in=ids),
            key=lambda r: ids.index(r.pk),
        )
        resources = [render_referral(r, resource_type, organization) for r in rows]
    return fhir_response(_searchset(request, resource_type, resources, total, count, offset))


def _searchset(request, resource_type, resources, total, count, offset) -> dict:
    base = request.build_absolute_uri("/fhir/")

    def page(at: int) -> str:
        query = [(k, v) for k in request.GET for v in request.GET.getlist(k) if k != "_offset"]
        if not any(k == "_count" for k, _v in query):
            query.append(("_count", str(count)))
        query.append(("_offset", str(at)))
        return f"{base}{resource_type}?{urlencode(query)}"

    links = [{"relation": "self", "url": page(offset)}]
    if count and offset + count < total:
        links.append({"relation": "next", "url": page(offset + count)})
    if offset > 0 and count:
        links.append({"relation": "previous", "url": page(max(offset - count, 0))})
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if resources:  # FHIR JSON has no empty arrays
        bundle["entry"] = [
            {
                "fullUrl": f"{base}{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ]
    return bundle
