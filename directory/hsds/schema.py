"""The HSDS 3.0 tables Handoff reads and writes: their files, columns and value types.

One list serves the importer (what to check), the exporter (what to write, in which order)
and datapackage.json. Column names and required fields follow the HSDS 3.0 schema
(openreferral/specification, schema/*.json). Two deliberate differences:

- Fields HSDS marks required but real directories often leave blank (an organization's or a
  term's description, the parts of an address) are accepted blank, so partial records still
  import; an address still needs its location.
- Columns HSDS does not have carry Handoff's own data (``handoff_*``), so an export of a
  Handoff directory imports back into Handoff without losing anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property

# Ids Handoff derives (a vocabulary's taxonomy, a location's accessibility row, an EIN's
# organization_identifier row) are uuid5 names in this namespace, so they stay stable.
NAMESPACE = uuid.UUID("6c4f1d2e-3b0a-5f7e-9a51-7d1c2b8e4f60")
HSDS_VERSION = "3.0"
# New terms whose taxonomy the file does not name go in this vocabulary.
DEFAULT_VOCABULARY = "imported"


def derived_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts))


def taxonomy_id(vocabulary: str) -> uuid.UUID:
    return derived_id("taxonomy", vocabulary)


STRING = "string"
UUID = "uuid"
INTEGER = "integer"
NUMBER = "number"
DECIMAL = "decimal"
DATE = "date"
TIME = "time"
BOOLEAN = "boolean"
EMAIL = "email"
URL = "url"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = STRING
    required: bool = False
    # The model field this column is stored in (None: HSDS has it, Handoff does not keep it).
    attr: str | None = None
    # The table whose id this column holds.
    ref: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    extension: bool = False  # a Handoff column beyond HSDS
    # False: an HSDS column Handoff does not keep (its values are ignored with a warning).
    stored: bool = True


@dataclass(frozen=True)
class Table:
    name: str  # the HSDS object name, also the datapackage resource name
    path: str  # the CSV file in a data package
    columns: tuple[Column, ...]
    description: str = ""

    @cached_property
    def by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    @property
    def required(self) -> list[Column]:
        return [c for c in self.columns if c.required]


def _c(name: str, kind: str = STRING, *, attr: str | None | bool = True, **kw) -> Column:
    """A column stored in the model field of the same name unless ``attr`` says otherwise."""
    if attr is True:
        attr = name
    elif attr is False:
        attr = None
    return Column(name, kind, attr=attr, **kw)


def _ignored(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, stored=False) for n in names)


ID = Column("id", UUID, required=True)

TAXONOMY = Table(
    "taxonomy",
    "taxonomies.csv",
    (
        ID,
        _c("name", required=True, attr=False, max_length=100),
        _c("description", attr=False),
        _c("uri", URL, attr=False),
        _c("version", attr=False),
    ),
    "A vocabulary of taxonomy terms. Handoff keeps its name on each term.",
)

TAXONOMY_TERM = Table(
    "taxonomy_term",
    "taxonomy_terms.csv",
    (
        ID,
        _c("code", max_length=100),
        _c("name", required=True, max_length=255),
        _c("description"),
        _c("parent_id", UUID, attr=False, ref="taxonomy_term"),
        _c("taxonomy", attr=False, max_length=100),
        *_ignored("language"),
        _c("taxonomy_id", UUID, attr=False, ref="taxonomy"),
        _c("term_uri", URL, max_length=200),
    ),
)

ORGANIZATION = Table(
    "organization",
    "organizations.csv",
    (
        ID,
        _c("name", required=True, max_length=255),
        _c("alternate_name", max_length=255),
        _c("description"),
        _c("email", EMAIL, max_length=254),
        _c("website", URL, max_length=200),
        *_ignored("tax_status"),
        _c("tax_id", max_length=32),
        _c("year_incorporated", INTEGER, minimum=1000, maximum=2100),
        _c("legal_status", max_length=255),
        *_ignored("logo", "uri", "parent_organization_id"),
        _c(
            "handoff_kind",
            attr="kind",
            choices=("refers", "receives", "both"),
            extension=True,
        ),
    ),
)

ORGANIZATION_IDENTIFIER = Table(
    "organization_identifier",
    "organization_identifiers.csv",
    (
        ID,
        _c("organization_id", UUID, attr=False, ref="organization", required=True),
        _c("identifier_scheme", attr=False),
        _c("identifier_type", attr=False, required=True),
        _c("identifier", attr=False, required=True, max_length=32),
    ),
    "Third-party identifiers. Handoff keeps an organization's EIN (scheme US-EIN).",
)

SERVICE_STATUSES = ("active", "inactive", "defunct", "temporarily closed")

SERVICE = Table(
    "service",
    "services.csv",
    (
        ID,
        _c("organization_id", UUID, attr=False, ref="organization", required=True),
        *_ignored("program_id"),
        _c("name", required=True, max_length=255),
        _c("alternate_name", max_length=255),
        _c("description"),
        _c("url", URL, max_length=200),
        _c("email", EMAIL, max_length=254),
        _c("status", required=True, choices=SERVICE_STATUSES),
        _c("interpretation_services"),
        _c("application_process"),
        _c("fees_description"),
        *_ignored("wait_time", "fees"),
        _c("accreditations"),
        _c("eligibility_description"),
        _c("minimum_age", INTEGER, minimum=0, maximum=150),
        _c("maximum_age", INTEGER, minimum=0, maximum=150),
        _c("assured_date", DATE),
        *_ignored("assurer_email", "licenses"),
        _c("alert"),
        _c("handoff_accepts_referrals", BOOLEAN, attr="accepts_referrals", extension=True),
        _c(
            "handoff_capacity",
            attr="capacity",
            choices=("accepting", "waitlist", "not_accepting"),
            extension=True,
        ),
        _c(
            "handoff_response_time_days",
            INTEGER,
            attr="response_time_days",
            minimum=0,
            maximum=365,
            extension=True,
        ),
    ),
)

LOCATION_TYPES = ("physical", "postal", "virtual")

LOCATION = Table(
    "location",
    "locations.csv",
    (
        ID,
        _c("location_type", required=True, choices=LOCATION_TYPES),
        *_ignored("url"),
        _c("organization_id", UUID, attr=False, ref="organization"),
        _c("name", max_length=255),
        *_ignored("alternate_name"),
        _c("description"),
        _c("transportation"),
        _c("latitude", NUMBER, minimum=-90, maximum=90),
        _c("longitude", NUMBER, minimum=-180, maximum=180),
        *_ignored("external_identifier", "external_identifier_type"),
    ),
)

# Handoff keeps one address on the location itself.
ADDRESS = Table(
    "address",
    "addresses.csv",
    (
        ID,
        _c("location_id", UUID, attr=False, ref="location", required=True),
        *_ignored("attention"),
        _c("address_1", max_length=255),
        _c("address_2", max_length=255),
        _c("city", max_length=100),
        _c("region", max_length=100),
        _c("state_province", max_length=100),
        _c("postal_code", max_length=20),
        _c("country", max_length=2),
        _c("address_type", attr=False, choices=LOCATION_TYPES),
    ),
)

ACCESSIBILITY = Table(
    "accessibility",
    "accessibility.csv",
    (
        ID,
        _c("location_id", UUID, attr=False, ref="location", required=True),
        _c("description", attr=False),
        _c("details", attr=False),
        _c("url", URL, attr=False),
    ),
    "Handoff keeps a location's accessibility as one text.",
)

SERVICE_AT_LOCATION = Table(
    "service_at_location",
    "service_at_locations.csv",
    (
        ID,
        _c("service_id", UUID, attr=False, ref="service", required=True),
        _c("location_id", UUID, attr=False, ref="location", required=True),
        _c("description"),
    ),
)

PHONE = Table(
    "phone",
    "phones.csv",
    (
        ID,
        _c("location_id", UUID, attr=False, ref="location"),
        _c("service_id", UUID, attr=False, ref="service"),
        _c("organization_id", UUID, attr=False, ref="organization"),
        *_ignored("contact_id"),
        _c("service_at_location_id", UUID, attr=False, ref="service_at_location"),
        _c("number", required=True, max_length=40),
        _c("extension", max_length=20),
        _c("type", max_length=20),
        _c("description"),
    ),
)

WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

SCHEDULE = Table(
    "schedule",
    "schedules.csv",
    (
        ID,
        _c("service_id", UUID, attr=False, ref="service"),
        _c("location_id", UUID, attr=False, ref="location"),
        _c("service_at_location_id", UUID, attr=False, ref="service_at_location"),
        _c("valid_from", DATE),
        _c("valid_to", DATE),
        *_ignored("dtstart"),
        _c("timezone", NUMBER, attr=False, minimum=-12, maximum=14),
        *_ignored("until", "count", "wkst"),
        _c("freq", attr=False, choices=("WEEKLY", "MONTHLY")),
        _c("interval", INTEGER, attr=False, minimum=1),
        _c("byday", attr=False),
        *_ignored("byweekno", "bymonthday", "byyearday"),
        _c("description"),
        _c("opens_at", TIME, attr=False),
        _c("closes_at", TIME, attr=False),
        *_ignored("schedule_link", "attending_type", "notes"),
        _c("handoff_timezone", attr=False, extension=True),
    ),
)

LANGUAGE = Table(
    "language",
    "languages.csv",
    (
        ID,
        _c("service_id", UUID, attr=False, ref="service"),
        _c("location_id", UUID, attr=False, ref="location"),
        _c("phone_id", UUID, attr=False, ref="phone"),
        _c("name", max_length=100),
        _c("code", max_length=10),
        *_ignored("note"),
    ),
)

SERVICE_AREA = Table(
    "service_area",
    "service_areas.csv",
    (
        ID,
        _c("service_id", UUID, attr=False, ref="service"),
        _c("service_at_location_id", UUID, attr=False, ref="service_at_location"),
        _c("name", max_length=255),
        _c("description"),
        _c("extent"),
        _c("extent_type", choices=("geojson", "topojson", "kml", "text")),
        *_ignored("uri"),
    ),
)

COST_OPTION = Table(
    "cost_option",
    "cost_options.csv",
    (
        ID,
        _c("service_id", UUID, attr=False, ref="service", required=True),
        *_ignored("valid_from", "valid_to"),
        _c("option", max_length=255),
        _c("currency", max_length=3),
        _c("amount", DECIMAL, minimum=0, maximum=99_999_999.99),
        _c("amount_description"),
    ),
)

REQUIRED_DOCUMENT = Table(
    "required_document",
    "required_documents.csv",
    (
        ID,
        _c("service_id", UUID, attr=False, ref="service", required=True),
        _c("document", required=True, max_length=255),
        _c("uri", URL, max_length=200),
    ),
)

ATTRIBUTE = Table(
    "attribute",
    "attributes.csv",
    (
        ID,
        _c("link_id", UUID, attr=False, required=True),
        _c("taxonomy_term_id", UUID, attr=False, ref="taxonomy_term", required=True),
        _c("link_type", attr=False),
        _c("link_entity", attr=False, required=True),
        _c("value", attr=False),
        _c("label", attr=False),
    ),
    "Taxonomy terms on services (link_entity service). Handoff keeps no other attributes.",
)

# In import order: every table comes after the tables its ids point at.
TABLES: tuple[Table, ...] = (
    TAXONOMY,
    TAXONOMY_TERM,
    ORGANIZATION,
    ORGANIZATION_IDENTIFIER,
    SERVICE,
    LOCATION,
    ADDRESS,
    ACCESSIBILITY,
    SERVICE_AT_LOCATION,
    PHONE,
    SCHEDULE,
    LANGUAGE,
    SERVICE_AREA,
    COST_OPTION,
    REQUIRED_DOCUMENT,
    ATTRIBUTE,
)
BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
BY_PATH: dict[str, Table] = {t.path: t for t in TABLES}

# HSDS objects Handoff does not store: their files are read past with a warning.
NOT_STORED = {
    "program": "programs.csv",
    "contact": "contacts.csv",
    "funding": "funding.csv",
    "metadata": "metadata.csv",
    "meta_table_description": "meta_table_descriptions.csv",
    "service_capacity": "service_capacities.csv",
    "unit": "units.csv",
    "url": "urls.csv",
}

_FRICTIONLESS_TYPES = {
    STRING: ("string", None),
    UUID: ("string", "uuid"),
    INTEGER: ("integer", None),
    NUMBER: ("number", None),
    DECIMAL: ("number", None),
    DATE: ("date", None),
    TIME: ("time", None),
    BOOLEAN: ("boolean", None),
    EMAIL: ("string", "email"),
    URL: ("string", "uri"),
}


def datapackage_descriptor(*, created: str, row_counts: dict[str, int] | None = None) -> dict:
    """datapackage.json for an export: a Frictionless tabular data package of HSDS tables."""
    resources = []
    for table in TABLES:
        fields = []
        for column in table.columns:
            ftype, fformat = _FRICTIONLESS_TYPES[column.kind]
            spec: dict = {"name": column.name, "type": ftype}
            if fformat:
                spec["format"] = fformat
            constraints: dict = {}
            if column.required:
                constraints["required"] = True
            if column.name == "id":
                constraints["unique"] = True
            if column.choices:
                constraints["enum"] = list(column.choices)
            if column.minimum is not None:
                constraints["minimum"] = column.minimum
            if column.maximum is not None:
                constraints["maximum"] = column.maximum
            if constraints:
                spec["constraints"] = constraints
            if column.extension:
                spec["description"] = "Handoff extension (not part of HSDS)."
            fields.append(spec)
        foreign_keys = [
            {"fields": c.name, "reference": {"resource": c.ref, "fields": "id"}}
            for c in table.columns
            if c.ref
        ]
        resource = {
            "name": table.name,
            "path": table.path,
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": {"fields": fields, "primaryKey": "id", "foreignKeys": foreign_keys},
        }
        if table.description:
            resource["description"] = table.description
        if row_counts is not None:
            resource["rows"] = row_counts.get(table.name, 0)
        resources.append(resource)
    return {
        "name": "handoff-directory",
        "title": "Handoff community resource directory (HSDS 3.0)",
        "profile": "tabular-data-package",
        "version": HSDS_VERSION,
        "created": created,
        "resources": resources,
    }
