"""A referral as FHIR R4 resources (fhirclient models), per the SDOH Clinical Care IG.

The same builders serve the outbound sync (the referring organization's EHR) and the
portal's FHIR API. Ids are stable local ids: the referral's UUID for its ServiceRequest, Task
and Procedure, ``consent-<pk>`` for a Consent; references to the patient and to the
screening's Conditions are local (``Patient/12``, ``Condition/need-3``) and are turned into
the EHR's (or the API's) references by whoever sends them. Organizations and services are
named by their HSDS ids (``HSDS_ORGANIZATION`` / ``HSDS_SERVICE`` identifier systems), which is
also how an EHR names them in a referral it sends in.
"""

from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from django.utils import translation
from fhirclient.models.consent import Consent as FhirConsent
from fhirclient.models.procedure import Procedure
from fhirclient.models.servicerequest import ServiceRequest
from fhirclient.models.task import Task

from screening.fhir import CATEGORY_DISPLAY, IG, SDOHCC_CODES, SNOMED

PROFILE_SERVICE_REQUEST = f"{IG}/StructureDefinition/SDOHCC-ServiceRequest"
PROFILE_TASK = f"{IG}/StructureDefinition/SDOHCC-TaskForReferralManagement"
PROFILE_PROCEDURE = f"{IG}/StructureDefinition/SDOHCC-Procedure"
PROFILE_CONSENT = f"{IG}/StructureDefinition/SDOHCC-Consent"

# How the portal names directory records in FHIR: the HSDS 3.0 ids of its directory.
HSDS_ORGANIZATION = "urn:handoff:hsds:organization"
HSDS_SERVICE = "urn:handoff:hsds:service"
# The portal's own code systems, for what FHIR leaves to the implementer.
STATUS_REASON_SYSTEM = "urn:handoff:codes:status-reason"
BUSINESS_STATUS_SYSTEM = "urn:handoff:codes:business-status"
OUTCOME_SYSTEM = "urn:handoff:codes:outcome"
# The referral's ``version`` each copy shows, as a tag (replaced, not merged, on update).
VERSION_TAG = "urn:handoff:version"

TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONSENT_POLICY = "http://terminology.hl7.org/CodeSystem/consentpolicycodes"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
SOCIAL_SERVICE_PROCEDURE = {
    "system": SNOMED,
    "code": "410606002",
    "display": "Social service procedure",
}

# What a consent's "may share" choices let the receiving organization see, as FHIR classes.
SHARED_CLASSES = {
    "share_contact": ["Patient"],
    "share_needs": ["Condition"],
    "share_screening": ["QuestionnaireResponse", "Observation"],
}
# A closed referral's ServiceRequest: done, or ended before it was (declined, cancelled,
# could not be completed) — "no further activity should occur" in FHIR's words.
SERVICE_REQUEST_STATUS = {
    "draft": "draft",
    "completed": "completed",
    "cancelled": "revoked",
    "rejected": "revoked",
    "failed": "revoked",
}


def _coding(system: str, code: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = str(display)
    return coding


def _instant(when: datetime) -> str:
    return when.isoformat()


def sdoh_category(category: str) -> dict:
    return {"coding": [_coding(SDOHCC_CODES, category, CATEGORY_DISPLAY.get(category))]}


def organization_reference(organization) -> dict:
    return {
        "type": "Organization",
        "identifier": {"system": HSDS_ORGANIZATION, "value": str(organization.hsds_id)},
        "display": organization.name,
    }


def service_reference(service) -> dict:
    return {
        "type": "HealthcareService",
        "identifier": {"system": HSDS_SERVICE, "value": str(service.hsds_id)},
        "display": service.name,
    }


def patient_reference(patient_id: int) -> dict:
    return {"reference": f"Patient/{patient_id}"}


def referral_id(referral) -> str:
    return str(referral.identifier)


def consent_id(consent) -> str:
    return f"consent-{consent.pk}"


def need_ids(referral) -> list[int]:
    return sorted(n.pk for n in referral.needs.all())


def _meta(profile: str, version: int | None = None) -> dict:
    meta: dict = {"profile": [profile]}
    if version is not None:
        meta["tag"] = [_coding(VERSION_TAG, str(version))]
    return meta


def _english():
    # Codes' displays and texts go to other systems: one language, whoever made the change.
    return translation.override(settings.LANGUAGE_CODE)


def service_request(referral, *, needs: list[int] | None = None) -> ServiceRequest:
    """The referral's request (SDOHCC-ServiceRequest): what is asked, for whom, of whom.

    ``needs`` are the Condition ids (need pks) to give as reasons; all the referral's needs
    when None.
    """
    needs = need_ids(referral) if needs is None else needs
    with _english():
        data = {
            "resourceType": "ServiceRequest",
            "id": referral_id(referral),
            "meta": _meta(PROFILE_SERVICE_REQUEST, referral.version),
            "status": SERVICE_REQUEST_STATUS.get(referral.status, "active"),
            "intent": "order",
            "category": [
                {"coding": [SOCIAL_SERVICE_PROCEDURE]},
                sdoh_category(referral.need_category),
            ],
            # The directory names services in words; no code is claimed that may not fit.
            "code": {"text": referral.service.name},
            "priority": referral.priority,
            "subject": patient_reference(referral.patient_id),
            "authoredOn": _instant(referral.sent_at or referral.created_at),
            "requester": organization_reference(referral.referring_organization),
            "performer": [
                organization_reference(referral.receiving_organization),
                service_reference(referral.service),
            ],
        }
        if needs:
            data["reasonReference"] = [{"reference": f"Condition/need-{pk}"} for pk in needs]
        if referral.consent_id:
            data["supportingInfo"] = [{"reference": f"Consent/consent-{referral.consent_id}"}]
        if referral.do_not_contact:
            data["orderDetail"] = [
                {
                    "coding": [
                        _coding(
                            SDOHCC_CODES,
                            "contacting-subject-prohibited",
                            "Contacting Subject Prohibited",
                        )
                    ]
                }
            ]
        if referral.note:
            data["note"] = [{"text": referral.note}]
        return ServiceRequest(data)


def _reason(referral) -> dict | None:
    if not referral.status_reason:
        return None
    label = str(referral.get_status_reason_display())
    return {
        "coding": [_coding(STATUS_REASON_SYSTEM, referral.status_reason, label)],
        "text": referral.status_reason_text or label,
    }


def _business_status(referral) -> dict | None:
    if not referral.business_status:
        return None
    label = str(referral.get_business_status_display())
    text = label
    if referral.intake_at:
        text = f"{label}: {referral.intake_at.isoformat()}"
    return {
        "coding": [_coding(BUSINESS_STATUS_SYSTEM, referral.business_status, label)],
        "text": text,
    }


def task(referral) -> Task:
    """The referral's workflow (SDOHCC-TaskForReferralManagement): status, reason, step."""
    with _english():
        data = {
            "resourceType": "Task",
            "id": referral_id(referral),
            "meta": _meta(PROFILE_TASK, referral.version),
            "status": referral.status,
            "intent": "order",
            "priority": referral.priority,
            "code": {"coding": [_coding(TASK_CODE, "fulfill", "Fulfill the focal request")]},
            "focus": {"reference": f"ServiceRequest/{referral_id(referral)}"},
            "for": patient_reference(referral.patient_id),
            "authoredOn": _instant(referral.sent_at or referral.created_at),
            "lastModified": _instant(referral.updated_at),
            "requester": organization_reference(referral.referring_organization),
            "owner": organization_reference(referral.receiving_organization),
        }
        reason = _reason(referral)
        if reason:
            data["statusReason"] = reason
        business = _business_status(referral)
        if business:
            data["businessStatus"] = business
        if referral.sent_at:
            period = {"start": _instant(referral.sent_at)}
            if referral.closed_at:
                period["end"] = _instant(referral.closed_at)
            data["executionPeriod"] = period
        if referral.status == "completed":
            data["output"] = [
                {
                    "type": {
                        "coding": [
                            _coding(SDOHCC_CODES, "resulting-activity", "Resulting Activity")
                        ]
                    },
                    "valueReference": {"reference": f"Procedure/{referral_id(referral)}"},
                }
            ]
        return Task(data)


def procedure(referral, *, needs: list[int] | None = None) -> Procedure:
    """What was done for a completed referral (SDOHCC-Procedure), referenced from Task.output."""
    needs = need_ids(referral) if needs is None else needs
    with _english():
        outcome = str(referral.get_outcome_display())
        performed = referral.outcome_date or (referral.closed_at or referral.updated_at).date()
        data = {
            "resourceType": "Procedure",
            "id": referral_id(referral),
            "meta": _meta(PROFILE_PROCEDURE, referral.version),
            "basedOn": [{"reference": f"ServiceRequest/{referral_id(referral)}"}],
            "status": "completed",
            "category": {
                "coding": [
                    SOCIAL_SERVICE_PROCEDURE,
                    *sdoh_category(referral.need_category)["coding"],
                ]
            },
            "code": {"text": referral.service.name},
            "subject": patient_reference(referral.patient_id),
            "performedDateTime": _date(performed),
            "performer": [{"actor": organization_reference(referral.receiving_organization)}],
            "outcome": {
                "coding": [_coding(OUTCOME_SYSTEM, referral.outcome, outcome)],
                "text": outcome,
            },
        }
        if referral.outcome_provided:
            data["note"] = [{"text": referral.outcome_provided}]
        if needs:
            data["reasonReference"] = [{"reference": f"Condition/need-{pk}"} for pk in needs]
        return Procedure(data)


def _date(value: date) -> str:
    return value.isoformat()


def consent_status(consent, now=None) -> str:
    """active while it holds; inactive once withdrawn or ended."""
    return "active" if consent.is_active(now) else "inactive"


def _safety_question_codes() -> list[dict]:
    from screening.instrument import LOINC, instruments
    from screening.sharing import safety_questions

    codes = sorted(
        {code for instrument in instruments().values() for code in safety_questions(instrument)}
    )
    return [{"coding": [_coding(LOINC, code)]} for code in codes]


def consent(consent) -> FhirConsent:
    """A consent to share with one receiving organization (SDOHCC-Consent)."""
    with _english():
        end = (
            consent.withdrawn_at.isoformat()
            if consent.withdrawn_at
            else consent.expires_on.isoformat()
        )
        classes = [
            _coding(RESOURCE_TYPES, kind)
            for flag, kinds in SHARED_CLASSES.items()
            if getattr(consent, flag)
            for kind in kinds
        ]
        provision: dict = {
            "type": "permit",
            "period": {"start": _instant(consent.given_at), "end": end},
            "actor": [
                {
                    "role": {
                        "coding": [_coding(PARTICIPATION_TYPE, "IRCP", "information recipient")]
                    },
                    "reference": organization_reference(consent.organization),
                }
            ],
        }
        if classes:
            provision["class"] = classes
        if consent.share_screening:
            # Screening answers are shared about the referral's need only, and never those
            # about safety at home (screening.sharing): the consent sent says so too.
            provision["provision"] = [{"type": "deny", "code": _safety_question_codes()}]
        title = str(consent.get_method_display())
        if consent.signature:
            title = f"{title}: {consent.signature}"
        data = {
            "resourceType": "Consent",
            "id": consent_id(consent),
            "meta": _meta(PROFILE_CONSENT),
            "status": consent_status(consent),
            "scope": {"coding": [_coding(CONSENT_SCOPE, "patient-privacy", "Privacy Consent")]},
            "category": [{"coding": [_coding(ACT_CODE, "IDSCL", "information disclosure")]}],
            "patient": patient_reference(consent.patient_id),
            "dateTime": _instant(consent.given_at),
            "performer": [patient_reference(consent.patient_id)],
            "organization": [organization_reference(consent.patient.organization)],
            "sourceAttachment": {"title": title, "creation": _instant(consent.given_at)},
            "policyRule": {
                "coding": [_coding(CONSENT_POLICY, "hipaa-auth", "HIPAA Authorization")]
            },
            "provision": provision,
        }
        return FhirConsent(data)


def referral_resources(referral, *, needs: list[int] | None = None) -> list:
    """Everything a referral is in FHIR now, in the order an EHR needs them (what is referred
    to first): Consent, ServiceRequest, Procedure (once completed), Task."""
    resources = []
    if referral.consent_id:
        resources.append(consent(referral.consent))
    resources.append(service_request(referral, needs=needs))
    if referral.status == "completed":
        resources.append(procedure(referral, needs=needs))
    resources.append(task(referral))
    return resources
