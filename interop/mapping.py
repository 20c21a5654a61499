"""The portal's identifiers on FHIR resources, the Patient an EHR knows, and references.

Resources are built with the portal's local ids and references (``Patient/12``,
``QuestionnaireResponse/screening-3``). Each gets an identifier in the portal's own system
(``urn:handoff:<type>``) so the EHR's copy can be found and updated in place; just before
sending, local references become references to the EHR's resources.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

from fhirclient.models.patient import Patient as FhirPatient

from patients.models import Patient

PORTAL_SYSTEM = "urn:handoff:{kind}"
# Types whose ``identifier`` is a single Identifier rather than a list.
SINGLE_IDENTIFIER = {"QuestionnaireResponse", "Bundle"}
_LOCAL_REFERENCE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})$")


def portal_system(resource_type: str) -> str:
    return PORTAL_SYSTEM.format(kind=resource_type.lower())


def with_portal_identifier(resource: dict) -> tuple[dict, str, str]:
    """A copy of ``resource`` without its local id and with the portal's identifier."""
    data = copy.deepcopy(resource)
    resource_type = data["resourceType"]
    system, value = portal_system(resource_type), str(data.pop("id"))
    identifier = {"system": system, "value": value}
    if resource_type in SINGLE_IDENTIFIER:
        data["identifier"] = identifier
    else:
        data["identifier"] = [
            i for i in data.get("identifier") or [] if i.get("system") != system
        ] + [identifier]
    return data, system, value


def patient_identifier(patient: Patient, mrn_system: str = "") -> tuple[str, str]:
    """How the EHR knows this person: their MRN, or the portal's own id without one."""
    if patient.mrn:
        return (patient.mrn_system or mrn_system or portal_system("mrn")), patient.mrn
    return portal_system("patient"), str(patient.pk)


def patient_resource(patient: Patient, mrn_system: str = "") -> dict:
    """The least an EHR needs to register the person (fhirclient checks the shape)."""
    system, value = patient_identifier(patient, mrn_system)
    data = {
        "resourceType": "Patient",
        "identifier": [{"system": system, "value": value}],
        "name": [{"family": patient.family_name, "given": [patient.given_name]}],
        "birthDate": patient.birth_date.isoformat(),
    }
    if patient.sex:
        data["gender"] = patient.sex
    return FhirPatient(data).as_json()


def references(resource: dict):
    """Every Reference object inside ``resource`` (dicts with a string ``reference``)."""
    stack = [resource]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def local_references(resource: dict) -> set[tuple[str, str]]:
    """(type, local id) of every local reference in ``resource``."""
    found = set()
    for reference in references(resource):
        match = _LOCAL_REFERENCE.match(reference["reference"])
        if match:
            found.add((match["type"], match["id"]))
    return found


def rewrite_references(resource: dict, resolve: Callable[[str, str], dict | None]) -> dict:
    """A copy whose local references are replaced by what ``resolve(type, local_id)`` gives."""
    data = copy.deepcopy(resource)
    for reference in references(data):
        match = _LOCAL_REFERENCE.match(reference["reference"])
        if not match:
            continue
        replacement = resolve(match["type"], match["id"])
        if replacement is not None:
            display = reference.get("display")
            reference.clear()
            reference.update(replacement)
            if display:
                reference["display"] = display
    return data


def logical_reference(resource_type: str, local_id: str) -> dict:
    """A reference by the portal's identifier, for a resource the EHR does not hold (yet)."""
    return {
        "type": resource_type,
        "identifier": {"system": portal_system(resource_type), "value": local_id},
    }
