"""Directory rows as HSDS records: one function per table, shared by the export and the API.

Each returns {HSDS column: value} for the columns Handoff keeps (``handoff_*`` extension
columns included; the API drops them). Foreign keys are read through the related object,
so callers select_related / prefetch what they pass in.
"""

from __future__ import annotations

import datetime
import zoneinfo

from directory.hsds import schema
from directory.models import (
    CostOption,
    Language,
    Location,
    Organization,
    Phone,
    RequiredDocument,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    ServiceTaxonomy,
    TaxonomyTerm,
)
from directory.taxonomy import VOCABULARY, taxonomy_document


def _ref(obj, name: str):
    """The HSDS id of a foreign key, without a query when the related object is loaded."""
    if getattr(obj, f"{name}_id") is None:
        return None
    return getattr(obj, name).hsds_id


def taxonomy_row(vocabulary: str) -> dict:
    row = {"id": schema.taxonomy_id(vocabulary), "name": vocabulary}
    if vocabulary == VOCABULARY:
        document = taxonomy_document()
        row.update(
            description=document.get("description"),
            uri=document.get("uri"),
            version=document.get("version"),
        )
    return row


def taxonomy_term_row(term: TaxonomyTerm) -> dict:
    return {
        "id": term.hsds_id,
        "code": term.code,
        "name": term.name,
        "description": term.description,
        "parent_id": _ref(term, "parent"),
        "taxonomy": term.vocabulary,
        "taxonomy_id": schema.taxonomy_id(term.vocabulary),
        "term_uri": term.term_uri,
    }


def organization_row(org: Organization) -> dict:
    return {
        "id": org.hsds_id,
        "name": org.name,
        "alternate_name": org.alternate_name,
        "description": org.description,
        "email": org.email,
        "website": org.website,
        "year_incorporated": org.year_incorporated,
        "legal_status": org.legal_status,
        "handoff_kind": org.kind,
    }


def organization_identifier_row(org: Organization) -> dict | None:
    """HSDS 3.0 keeps an EIN as an organization_identifier, not in the deprecated tax_id."""
    if not org.tax_id:
        return None
    return {
        "id": schema.derived_id("organization_identifier", org.hsds_id, "US-EIN"),
        "organization_id": org.hsds_id,
        "identifier_scheme": "US-EIN",
        "identifier_type": "EIN",
        "identifier": org.tax_id,
    }


def service_row(service: Service) -> dict:
    return {
        "id": service.hsds_id,
        "organization_id": _ref(service, "organization"),
        "name": service.name,
        "alternate_name": service.alternate_name,
        "description": service.description,
        "url": service.url,
        "email": service.email,
        "status": service.status,
        "interpretation_services": service.interpretation_services,
        "application_process": service.application_process,
        "fees_description": service.fees_description,
        "accreditations": service.accreditations,
        "eligibility_description": service.eligibility_description,
        "minimum_age": service.minimum_age,
        "maximum_age": service.maximum_age,
        "assured_date": service.assured_date,
        "alert": service.alert,
        "handoff_accepts_referrals": service.accepts_referrals,
        "handoff_capacity": service.capacity,
        "handoff_response_time_days": service.response_time_days,
    }


def location_row(location: Location) -> dict:
    return {
        "id": location.hsds_id,
        "location_type": location.location_type,
        "organization_id": _ref(location, "organization"),
        "name": location.name,
        "description": location.description,
        "transportation": location.transportation,
        "latitude": location.latitude,
        "longitude": location.longitude,
    }


ADDRESS_FIELDS = ("address_1", "address_2", "city", "region", "state_province", "postal_code")


def address_row(location: Location) -> dict | None:
    if not any(getattr(location, f) for f in ADDRESS_FIELDS):
        return None
    row = {"id": location.address_hsds_id, "location_id": location.hsds_id}
    row.update({f: getattr(location, f) for f in ADDRESS_FIELDS})
    row.update(country=location.country, address_type=location.location_type)
    return row


def accessibility_row(location: Location) -> dict | None:
    if not location.accessibility:
        return None
    return {
        "id": schema.derived_id("accessibility", location.hsds_id),
        "location_id": location.hsds_id,
        "description": location.accessibility,
    }


def service_at_location_row(sal: ServiceAtLocation) -> dict:
    return {
        "id": sal.hsds_id,
        "service_id": _ref(sal, "service"),
        "location_id": _ref(sal, "location"),
        "description": sal.description,
    }


def phone_row(phone: Phone) -> dict:
    return {
        "id": phone.hsds_id,
        "location_id": _ref(phone, "location"),
        "service_id": _ref(phone, "service"),
        "organization_id": _ref(phone, "organization"),
        "number": phone.number,
        "extension": phone.extension,
        "type": phone.type,
        "description": phone.description,
    }


def standard_offset(zone: str) -> float:
    """The zone's UTC offset in hours on standard time (HSDS schedule.timezone is a number)."""
    january = datetime.datetime(datetime.date.today().year, 1, 1, tzinfo=zoneinfo.ZoneInfo(zone))
    return january.utcoffset().total_seconds() / 3600


def schedule_row(schedule: Schedule) -> dict:
    return {
        "id": schedule.hsds_id,
        "service_id": _ref(schedule, "service"),
        "location_id": _ref(schedule, "location"),
        "service_at_location_id": _ref(schedule, "service_at_location"),
        "valid_from": schedule.valid_from,
        "valid_to": schedule.valid_to,
        "timezone": standard_offset(schedule.timezone),
        "freq": schedule.freq,
        "byday": schedule.byday,
        "description": schedule.description,
        "opens_at": schedule.opens_at,
        "closes_at": schedule.closes_at,
        "handoff_timezone": schedule.timezone,
    }


def language_row(language: Language) -> dict:
    return {
        "id": language.hsds_id,
        "service_id": _ref(language, "service"),
        "location_id": _ref(language, "location"),
        "phone_id": _ref(language, "phone"),
        "name": language.name,
        "code": language.code,
    }


def service_area_row(area: ServiceArea) -> dict:
    return {
        "id": area.hsds_id,
        "service_id": _ref(area, "service"),
        "name": area.name,
        "description": area.description,
        "extent": area.extent,
        "extent_type": area.extent_type,
    }


def cost_option_row(option: CostOption) -> dict:
    return {
        "id": option.hsds_id,
        "service_id": _ref(option, "service"),
        "option": option.option,
        "currency": option.currency,
        "amount": option.amount,
        "amount_description": option.amount_description,
    }


def required_document_row(document: RequiredDocument) -> dict:
    return {
        "id": document.hsds_id,
        "service_id": _ref(document, "service"),
        "document": document.document,
        "uri": document.uri,
    }


def attribute_row(link: ServiceTaxonomy) -> dict:
    return {
        "id": link.hsds_id,
        "link_id": _ref(link, "service"),
        "taxonomy_term_id": _ref(link, "taxonomy_term"),
        "link_entity": "service",
    }
