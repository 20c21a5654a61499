"""Referrals an EHR sends in: a FHIR transaction Bundle POSTed to /fhir/.

The Bundle holds a ServiceRequest and its Task, the patient (a Patient resource, or a
reference by identifier — the MRN), and optionally the Consent. It is checked as FHIR R4
(fhir.resources) and then against the directory and the portal's rules; either it all
becomes one portal referral, sent (it appears in the receiving inbox at once), or nothing
changes and the answer is a 4xx OperationOutcome saying what was wrong and where.

How an EHR names the receiving side (the portal's identifier scheme, in the
CapabilityStatement too):

- ``Task.owner``: the organization, ``{"identifier": {"system": "urn:handoff:hsds:organization",
  "value": "<HSDS id>"}}`` (or ``"reference": "Organization/<HSDS id>"``);
- ``ServiceRequest.performer``: the service, ``{"identifier": {"system":
  "urn:handoff:hsds:service", "value": "<HSDS id>"}}`` — needed only when the organization
  offers more than one service that takes referrals.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.utils import timezone

from interop import referral_fhir
from interop.api import FhirApiError
from interop.mapping import portal_system
from interop.models import ApiClient, EhrConnection, InboundReferral

logger = logging.getLogger(__name__)

ACCEPTED_TYPES = ("Patient", "ServiceRequest", "Task", "Consent")
SHARE_FLAGS = {kind: flag for flag, kinds in referral_fhir.SHARED_CLASSES.items() for kind in kinds}


class Invalid(FhirApiError):
    """The Bundle is well-formed FHIR but cannot become a referral (422)."""

    def __init__(self, text: str, where: str = ""):
        super().__init__(422, "business-rule" if not where else "invalid", text, expression=where)


def _bad(text: str, code: str = "structure") -> FhirApiError:
    return FhirApiError(400, code, text)


# --- reading the request ------------------------------------------------------------------


def parse_body(request) -> dict:
    try:
        raw = request.body
    except RequestDataTooBig:
        raise FhirApiError(413, "too-costly", "The Bundle is too large.") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _bad("The body is not JSON.") from None
    _check_strings(data)
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise _bad("POST a FHIR Bundle (resourceType Bundle) of type transaction here.")
    if data.get("type") != "transaction":
        raise _bad("Only transaction Bundles are accepted (Bundle.type = transaction).")
    return data


def _check_strings(data) -> None:
    """No NUL characters or lone surrogates: the database cannot store them."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise _bad("The Bundle contains a NUL character.")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _bad("The Bundle contains text that is not valid Unicode.") from None


def validate_r4(data: dict) -> None:
    """Check the Bundle (and every resource in it) against FHIR R4 with fhir.resources."""
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    try:
        model = Bundle.model_validate(data)
        _check_json_types(model, data, "Bundle")
    except ValidationError as error:
        problems = []
        for item in error.errors()[:5]:
            where = ".".join(str(part) for part in item.get("loc", ()))
            problems.append(
                f"{item.get('msg', 'invalid')} ({where})" if where else item.get("msg", "")
            )
        raise _bad("Not valid FHIR R4: " + "; ".join(problems)) from None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        raise _bad(f"Not valid FHIR R4: {str(error)[:300]}") from None


def _check_json_types(model, raw, where: str) -> None:
    """FHIR JSON's own types for primitives, which fhir.resources lets pass by coercion (an
    ``authoredOn`` of 12 is read as a time in 1970): booleans are JSON booleans, integers and
    decimals JSON numbers, everything else a JSON string."""
    from decimal import Decimal

    from pydantic import BaseModel

    stack = [(model, raw, where)]
    while stack:
        model, raw, where = stack.pop()
        if not isinstance(raw, dict):
            continue
        for name, info in type(model).model_fields.items():
            key = info.alias or name
            if key not in raw:
                continue
            value, given = getattr(model, name), raw[key]
            pairs = (
                list(zip(value, given, strict=False))
                if isinstance(value, list) and isinstance(given, list)
                else [(value, given)]
            )
            for item, item_raw in pairs:
                if isinstance(item, BaseModel):
                    stack.append((item, item_raw, f"{where}.{key}"))
                    continue
                if isinstance(item, bool):
                    ok = isinstance(item_raw, bool)
                elif isinstance(item, int):
                    ok = isinstance(item_raw, int) and not isinstance(item_raw, bool)
                elif isinstance(item, (float, Decimal)):
                    ok = isinstance(item_raw, (int, float)) and not isinstance(item_raw, bool)
                elif item is None:
                    ok = item_raw is None
                else:
                    ok = isinstance(item_raw, str)
                if not ok:
                    raise _bad(f"Not valid FHIR R4: {where}.{key} has the wrong JSON type.")


@dataclass
class Entry:
    index: int
    full_url: str
    resource: dict


@dataclass
class Parsed:
    entries: list[Entry] = field(default_factory=list)
    by_type: dict[str, list[Entry]] = field(default_factory=dict)
    by_url: dict[str, Entry] = field(default_factory=dict)

    def one(self, resource_type: str, *, required: bool) -> Entry | None:
        found = self.by_type.get(resource_type, [])
        if len(found) > 1:
            raise Invalid(f"The Bundle holds {len(found)} {resource_type} resources; send one.")
        if not found and required:
            raise Invalid(f"The Bundle needs a {resource_type}.")
        return found[0] if found else None

    def resolve(self, reference: dict | None) -> Entry | None:
        if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
            return self.by_url.get(reference["reference"])
        return None


def entries_of(data: dict) -> Parsed:
    parsed = Parsed()
    for index, entry in enumerate(data.get("entry") or []):
        where = f"Bundle.entry[{index}]"
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            raise Invalid(f"{where} has no resource.", where)
        kind = resource.get("resourceType")
        if kind not in ACCEPTED_TYPES:
            raise Invalid(
                f"{where}: {kind} is not accepted here; send Patient, ServiceRequest, Task and "
                "Consent.",
                where,
            )
        request = entry.get("request") or {}
        if request.get("method") != "POST":
            raise Invalid(f"{where}.request.method must be POST (a new referral).", where)
        url = str(request.get("url") or "")
        if url.split("?")[0].strip("/") != kind:
            raise Invalid(f"{where}.request.url must be {kind}.", where)
        item = Entry(index, str(entry.get("fullUrl") or ""), resource)
        parsed.entries.append(item)
        parsed.by_type.setdefault(kind, []).append(item)
        names = [item.full_url] if item.full_url else []
        if resource.get("id"):
            names.append(f"{kind}/{resource['id']}")
        for name in names:
            if name in parsed.by_url:
                raise Invalid(f"{where}: {name} names two entries of the Bundle.", where)
            parsed.by_url[name] = item
    return parsed


# --- the people and organizations it names ------------------------------------------------


def _identifier(reference) -> tuple[str, str] | None:
    if not isinstance(reference, dict):
        return None
    identifier = reference.get("identifier")
    if isinstance(identifier, dict) and identifier.get("value"):
        return str(identifier.get("system") or ""), str(identifier["value"])
    return None


def _hsds_id(reference, system: str, kind: str) -> str | None:
    """The HSDS id a reference names: by identifier (``system``) or as ``<kind>/<id>``."""
    if not isinstance(reference, dict):
        return None
    found = _identifier(reference)
    if found and found[0] == system:
        return found[1]
    literal = reference.get("reference")
    if isinstance(literal, str) and literal.startswith(f"{kind}/"):
        return literal.split("/", 1)[1]
    return None


def _as_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except (ValueError, TypeError, AttributeError):
        return None


def receiving_organization(task: dict, client: ApiClient):
    from directory.models import Organization

    hsds = _as_uuid(_hsds_id(task.get("owner"), referral_fhir.HSDS_ORGANIZATION, "Organization"))
    organization = Organization.objects.receiving().filter(hsds_id=hsds).first() if hsds else None
    if organization is None:
        raise Invalid(
            "Task.owner must name a community organization of the directory by its HSDS id "
            f"(identifier system {referral_fhir.HSDS_ORGANIZATION}).",
            "Task.owner",
        )
    if organization.pk == client.organization_id:
        raise Invalid("Task.owner is the sending organization itself.", "Task.owner")
    return organization


def chosen_service(service_request: dict, organization):
    from directory.models import Service

    takes = Service.objects.active().accepting_referrals().filter(organization=organization)
    named = None
    for performer in service_request.get("performer") or []:
        other = _as_uuid(_hsds_id(performer, referral_fhir.HSDS_ORGANIZATION, "Organization"))
        if other and other != organization.hsds_id:
            raise Invalid(
                "ServiceRequest.performer names another organization than Task.owner.",
                "ServiceRequest.performer",
            )
        hsds = _hsds_id(performer, referral_fhir.HSDS_SERVICE, "HealthcareService")
        if hsds:
            named = _as_uuid(hsds)
            if named is None:
                raise Invalid(
                    "ServiceRequest.performer: not an HSDS service id.", "ServiceRequest.performer"
                )
    if named:
        service = Service.objects.filter(hsds_id=named, organization=organization).first()
        if service is None:
            raise Invalid(
                f"ServiceRequest.performer: {organization.name} has no such service.",
                "ServiceRequest.performer",
            )
        if not takes.filter(pk=service.pk).exists():
            raise Invalid(
                f"{service.name} does not take referrals now.", "ServiceRequest.performer"
            )
        return service
    services = list(takes[:2])
    if len(services) == 1:
        return services[0]
    if not services:
        raise Invalid(f"{organization.name} takes no referrals now.", "Task.owner")
    raise Invalid(
        f"{organization.name} offers several services: name one in ServiceRequest.performer "
        f"(identifier system {referral_fhir.HSDS_SERVICE}).",
        "ServiceRequest.performer",
    )


def need_category(service_request: dict) -> str:
    from directory.taxonomy import NEED_NAMES

    for concept in service_request.get("category") or []:
        for coding in concept.get("coding") or []:
            if (
                coding.get("system") == referral_fhir.SDOHCC_CODES
                and coding.get("code") in NEED_NAMES
            ):
                return coding["code"]
    raise Invalid(
        f"ServiceRequest.category must carry an SDOH category ({referral_fhir.SDOHCC_CODES}).",
        "ServiceRequest.category",
    )


def _text(value, where: str, limit: int, *, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise Invalid(f"{where} is required.", where)
    if len(text) > limit:
        raise Invalid(f"{where} is longer than {limit} characters.", where)
    return text


def _fhir_date(value, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise Invalid(f"{where} must be a full date (YYYY-MM-DD).", where) from None


def _fhir_datetime(value, where: str) -> datetime:
    """A FHIR dateTime (year, year-month, date, or date and time) as an aware datetime."""
    text = str(value or "")
    try:
        if len(text) == 4:
            naive = datetime(int(text), 1, 1)
        elif len(text) == 7:
            naive = datetime(int(text[:4]), int(text[5:7]), 1)
        else:
            naive = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise Invalid(f"{where} is not a FHIR dateTime.", where) from None
    return naive if timezone.is_aware(naive) else timezone.make_aware(naive)


def _mrn(identifiers, organization) -> tuple[str, str] | None:
    """The MRN among a patient's identifiers: the one in the EHR connection's MRN system, or
    the first with a system and a value that is not the portal's own."""
    usable = [
        (str(i.get("system") or ""), str(i.get("value") or ""))
        for i in identifiers or []
        if isinstance(i, dict) and i.get("system") and i.get("value")
    ]
    usable = [(s, v) for s, v in usable if not s.startswith("urn:handoff:")]
    preferred = (
        EhrConnection.objects.filter(organization=organization)
        .values_list("mrn_system", flat=True)
        .first()
        or ""
    )
    for system, value in usable:
        if system == preferred:
            return system, value
    return usable[0] if usable else None


def find_patient(system: str, value: str, organization):
    from patients.models import Patient

    if system == portal_system("patient"):
        return (
            Patient.objects.for_organization(organization).filter(pk=value).first()
            if value.isdigit() and len(value) < 19
            else None
        )
    patients = Patient.objects.for_organization(organization).filter(mrn=value)
    found = patients.filter(mrn_system=system).first()
    if found is None:
        # Registered in the portal without a system: the EHR connection's is theirs.
        preferred = EhrConnection.objects.filter(
            organization=organization, mrn_system=system
        ).exists()
        if preferred:
            found = patients.filter(mrn_system="").first()
    return found


@dataclass
class PatientChoice:
    patient: object
    created: bool
    entry: Entry | None


def the_patient(
    parsed: Parsed, service_request: dict, task: dict, client: ApiClient, user
) -> PatientChoice:
    organization = client.organization
    entry = parsed.one("Patient", required=False)
    subject = service_request.get("subject")
    target = parsed.resolve(subject)
    if target is not None and target.resource.get("resourceType") != "Patient":
        raise Invalid("ServiceRequest.subject must be the patient.", "ServiceRequest.subject")
    if entry is not None and target is not entry:
        raise Invalid(
            "ServiceRequest.subject must refer to the Patient in the Bundle (its fullUrl).",
            "ServiceRequest.subject",
        )
    task_for = task.get("for")
    if not _same_patient(parsed, subject, task_for):
        raise Invalid("Task.for must be the same patient as ServiceRequest.subject.", "Task.for")
    if entry is None:
        found = _identifier(subject)
        if found is None or not found[0]:
            raise Invalid(
                "Name the patient: a Patient in the Bundle, or ServiceRequest.subject with an "
                "identifier (system and value, e.g. the MRN).",
                "ServiceRequest.subject",
            )
        patient = find_patient(*found, organization)
        if patient is None:
            raise Invalid(
                "No patient with that identifier is registered here; include the Patient "
                "resource to register them.",
                "ServiceRequest.subject",
            )
        return PatientChoice(patient, False, None)
    resource = entry.resource
    mrn = _mrn(resource.get("identifier"), organization)
    if mrn is None:
        raise Invalid(
            "Patient.identifier must hold the patient's MRN (system and value).",
            f"Bundle.entry[{entry.index}].resource.identifier",
        )
    _text(mrn[0], "Patient.identifier.system", 255)
    _text(mrn[1], "Patient.identifier.value", 64)
    patient = find_patient(*mrn, organization)
    if patient is not None:
        return PatientChoice(patient, False, entry)
    return PatientChoice(_register(resource, mrn, organization, user), True, entry)


def _same_patient(parsed: Parsed, a, b) -> bool:
    entry_a, entry_b = parsed.resolve(a), parsed.resolve(b)
    if entry_a is not None or entry_b is not None:
        return entry_a is entry_b
    return _identifier(a) is not None and _identifier(a) == _identifier(b)


def _register(resource: dict, mrn: tuple[str, str], organization, user):
    from directory.languages import LANGUAGES
    from patients.models import Patient

    where = "Patient"
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = " ".join(str(g) for g in name.get("given") or [])
    family = name.get("family") or ""
    _text(given, f"{where}.name.given", 100, required=True)
    _text(family, f"{where}.name.family", 100, required=True)
    if not resource.get("birthDate"):
        raise Invalid(
            f"{where}.birthDate is required to register the patient.", f"{where}.birthDate"
        )
    birth = _fhir_date(resource["birthDate"], f"{where}.birthDate")
    fields = {
        "given_name": given.strip(),
        "family_name": str(family).strip(),
        "birth_date": birth,
        "sex": resource.get("gender") if resource.get("gender") in Patient.Sex.values else "",
        "mrn_system": mrn[0],
        "mrn": mrn[1],
    }
    for telecom in resource.get("telecom") or []:
        system, value = telecom.get("system"), telecom.get("value") or ""
        if system == "phone" and not fields.get("phone"):
            fields["phone"] = _text(value, f"{where}.telecom (phone)", 32)
        elif system == "email" and not fields.get("email"):
            fields["email"] = _text(value, f"{where}.telecom (email)", 254)
    addresses = [a for a in resource.get("address") or [] if isinstance(a, dict)]
    if addresses:
        address = addresses[0]
        fields["address_line"] = _text(
            ", ".join(address.get("line") or []), f"{where}.address.line", 255
        )
        fields["city"] = _text(address.get("city"), f"{where}.address.city", 100)
        fields["state"] = _text(address.get("state"), f"{where}.address.state (two letters)", 2)
        fields["zip_code"] = _text(address.get("postalCode"), f"{where}.address.postalCode", 10)
    for communication in resource.get("communication") or []:
        codes = [c.get("code") for c in (communication.get("language") or {}).get("coding") or []]
        code = next(
            (str(c).split("-")[0] for c in codes if c and str(c).split("-")[0] in LANGUAGES), None
        )
        if code:
            fields["preferred_language"] = code
            break
    try:
        with transaction.atomic():
            return Patient.objects.create(organization=organization, registered_by=user, **fields)
    except IntegrityError:
        raise FhirApiError(
            409, "conflict", "The patient was registered meanwhile; send again."
        ) from None


# --- consent ------------------------------------------------------------------------------


def the_consent(parsed: Parsed, choice: PatientChoice, receiving, client: ApiClient, user, now):
    from accounts.models import AuditEvent
    from patients.models import Consent

    entry = parsed.one("Consent", required=False)
    if entry is None:
        consent = (
            Consent.objects.filter(patient=choice.patient, organization=receiving)
            .active(now)
            .first()
        )
        if consent is None:
            raise Invalid(
                f"The patient's consent to share with {receiving.name} is required: add a "
                "Consent to the Bundle.",
                "Consent",
            )
        return None, consent
    resource = entry.resource
    where = f"Bundle.entry[{entry.index}].resource"
    if resource.get("status") != "active":
        raise Invalid("Consent.status must be active.", f"{where}.status")
    patient_ref = resource.get("patient")
    if choice.entry is not None:
        if parsed.resolve(patient_ref) is not choice.entry:
            raise Invalid("Consent.patient must be the referral's patient.", f"{where}.patient")
    elif (
        _identifier(patient_ref) is None
        or find_patient(*_identifier(patient_ref), client.organization) != choice.patient
    ):
        raise Invalid("Consent.patient must be the referral's patient.", f"{where}.patient")
    provision = resource.get("provision") or {}
    if provision.get("type", "permit") != "permit":
        raise Invalid("Consent.provision.type must be permit.", f"{where}.provision.type")
    actors = [
        _as_uuid(_hsds_id(a.get("reference"), referral_fhir.HSDS_ORGANIZATION, "Organization"))
        for a in provision.get("actor") or []
        if isinstance(a, dict)
    ]
    if receiving.hsds_id not in actors:
        raise Invalid(
            f"Consent.provision.actor must name {receiving.name} (identifier system "
            f"{referral_fhir.HSDS_ORGANIZATION}).",
            f"{where}.provision.actor",
        )
    if not resource.get("dateTime"):
        raise Invalid("Consent.dateTime (when it was given) is required.", f"{where}.dateTime")
    given_at = _fhir_datetime(resource["dateTime"], f"{where}.dateTime")
    if given_at > now + timedelta(minutes=5):
        raise Invalid("Consent.dateTime is in the future.", f"{where}.dateTime")
    end = (provision.get("period") or {}).get("end")
    expires_on = (
        _fhir_datetime(end, f"{where}.provision.period.end").date()
        if end
        else timezone.localdate(given_at) + timedelta(days=365)
    )
    if expires_on < timezone.localdate(now):
        raise Invalid(
            "The consent has ended (Consent.provision.period.end).", f"{where}.provision.period.end"
        )
    classes = [
        c.get("code")
        for c in provision.get("class") or []
        if c.get("system") == referral_fhir.RESOURCE_TYPES
    ]
    if classes:
        flags = dict.fromkeys(referral_fhir.SHARED_CLASSES, False)
        for kind in classes:
            if kind in SHARE_FLAGS:
                flags[SHARE_FLAGS[kind]] = True
    else:
        flags = {"share_contact": True, "share_needs": True, "share_screening": False}
    has_source = any(resource.get(k) for k in ("sourceAttachment", "sourceReference"))
    consent = Consent.objects.create(
        patient=choice.patient,
        organization=receiving,
        method=Consent.Method.WRITTEN if has_source else Consent.Method.VERBAL,
        recorded_by=user,
        given_at=given_at,
        expires_on=expires_on,
        **flags,
    )
    AuditEvent.record(
        organization=choice.patient.organization,
        actor=user,
        actor_organization=client.organization,
        action=AuditEvent.Action.CONSENT,
        obj=consent,
        detail=f"consent to share with {receiving.name} (sent by the EHR)",
    )
    return entry, consent


# --- the referral -------------------------------------------------------------------------


def _task_key(task: dict) -> str:
    for identifier in task.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("value"):
            key = f"{identifier.get('system') or ''}|{identifier['value']}"
            return _text(key, "Task.identifier", 600)
    return ""


def _identifiers(resource_type: str, resource: dict) -> list[dict]:
    return [
        {
            "resourceType": resource_type,
            "system": str(i.get("system") or ""),
            "value": str(i["value"]),
        }
        for i in resource.get("identifier") or []
        if isinstance(i, dict) and i.get("value")
    ]


def _check_request(service_request: dict, task: dict, parsed: Parsed, sr_entry: Entry) -> None:
    if service_request.get("status") != "active":
        raise Invalid("ServiceRequest.status must be active.", "ServiceRequest.status")
    if service_request.get("intent") != "order":
        raise Invalid("ServiceRequest.intent must be order.", "ServiceRequest.intent")
    if task.get("status") != "requested":
        raise Invalid("Task.status must be requested (a new referral).", "Task.status")
    if task.get("intent") != "order":
        raise Invalid("Task.intent must be order.", "Task.intent")
    if parsed.resolve(task.get("focus")) is not sr_entry:
        raise Invalid(
            "Task.focus must refer to the ServiceRequest in the Bundle (its fullUrl).", "Task.focus"
        )


def _priority(service_request: dict, task: dict) -> str:
    from referrals.models import Priority

    priority = service_request.get("priority") or task.get("priority") or Priority.ROUTINE
    if priority not in Priority.values:
        raise Invalid("priority must be routine, urgent, asap or stat.", "ServiceRequest.priority")
    return priority


def _requester_ok(resource: dict, client: ApiClient) -> None:
    hsds = _hsds_id(resource.get("requester"), referral_fhir.HSDS_ORGANIZATION, "Organization")
    if hsds and _as_uuid(hsds) != client.organization.hsds_id:
        raise Invalid(
            f"{resource['resourceType']}.requester names another organization than the one "
            "this token belongs to.",
            f"{resource['resourceType']}.requester",
        )


def receive(request, client: ApiClient) -> tuple[int, dict]:
    """Turn a transaction Bundle into a sent referral; (HTTP status, transaction-response)."""
    data = parse_body(request)
    validate_r4(data)
    parsed = entries_of(data)
    sr_entry = parsed.one("ServiceRequest", required=True)
    task_entry = parsed.one("Task", required=True)
    service_request, task = sr_entry.resource, task_entry.resource
    _check_request(service_request, task, parsed, sr_entry)
    _requester_ok(service_request, client)
    _requester_ok(task, client)
    key = _task_key(task)
    with transaction.atomic():
        if key:
            earlier = (
                InboundReferral.objects.select_related("referral")
                .filter(organization=client.organization, task_identifier=key)
                .first()
            )
            if earlier is not None:
                return 200, _response(parsed, earlier.referral, None, None, replay=True)
        return 200, _create(parsed, service_request, task, client, key)


def _create(parsed: Parsed, service_request: dict, task: dict, client: ApiClient, key: str) -> dict:
    from referrals.models import Referral
    from referrals.transitions import TransitionError
    from screening.models import Need

    now = timezone.now()
    receiving = receiving_organization(task, client)
    service = chosen_service(service_request, receiving)
    category = need_category(service_request)
    priority = _priority(service_request, task)
    user = client.acting_user()
    choice = the_patient(parsed, service_request, task, client, user)
    consent_entry, consent = the_consent(parsed, choice, receiving, client, user, now)
    patient = choice.patient
    note = "\n\n".join(
        str(n.get("text")).strip() for n in service_request.get("note") or [] if n.get("text")
    )
    do_not_contact = any(
        coding.get("code") == "contacting-subject-prohibited"
        for detail in service_request.get("orderDetail") or []
        for coding in detail.get("coding") or []
    )
    referral = Referral.objects.create(
        patient=patient,
        need_category=category,
        referring_organization=client.organization,
        referred_by=user,
        service=service,
        receiving_organization=receiving,
        priority=priority,
        note=note,
        contact_method=patient.contact_method or ("phone" if patient.phone else ""),
        contact_times=patient.contact_times,
        language=patient.preferred_language,
        interpreter_needed=patient.interpreter_needed,
        do_not_contact=do_not_contact,
        consent=consent,
    )
    referral.needs.set(Need.objects.filter(patient=patient, category=category).active())
    try:
        with transaction.atomic():
            InboundReferral.objects.create(
                referral=referral,
                client=client,
                organization=client.organization,
                task_identifier=key,
                identifiers=_identifiers("Task", task)
                + _identifiers("ServiceRequest", service_request),
            )
    except IntegrityError:
        raise FhirApiError(
            409, "conflict", "This Task was sent in meanwhile; send again."
        ) from None
    try:
        referral.apply("send", by=user, organization=client.organization, now=now)
    except TransitionError as error:
        raise Invalid(str(error)) from None
    referral.refresh_from_db()
    return _response(parsed, referral, choice, (consent_entry, consent))


def _response(
    parsed: Parsed, referral, choice: PatientChoice | None, consent, *, replay=False
) -> dict:
    """The transaction-response: one entry per request entry, in order."""
    created = "200 OK" if replay else "201 Created"
    version = str(referral.version)
    modified = referral.updated_at.isoformat()
    entries = []
    for entry in parsed.entries:
        kind = entry.resource["resourceType"]
        if kind in ("ServiceRequest", "Task"):
            location = f"{kind}/{referral.identifier}/_history/{version}"
            response = {
                "status": created,
                "location": location,
                "etag": f'W/"{version}"',
                "lastModified": modified,
            }
        elif kind == "Patient":
            status = "201 Created" if choice and choice.created else "200 OK"
            response = {"status": status, "location": f"Patient/{referral.patient_id}/_history/1"}
        else:
            made = consent[1] if consent else referral.consent
            response = {
                "status": created,
                "location": f"Consent/consent-{made.pk}/_history/1" if made else "",
            }
        entries.append({"response": response})
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
