"""Import an HSDS package: check every row first, then write all of it in one transaction.

Rows are matched to the directory by their HSDS id, so importing the same package again
updates in place. An import adds and updates; it never deletes. A column a file leaves out
(or a key a JSON object leaves out) leaves that field as it is; an empty cell empties it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import DatabaseError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from directory.hsds import schema
from directory.hsds.reader import (
    Package,
    Problem,
    Progress,
    Report,
    iter_tables,
    place,
    read_path,
    read_upload,
)
from directory.hsds.schema import Table
from directory.hsds.values import BadValue, is_blank, parse
from directory.models import (
    SUPPORTED_TIMEZONES,
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
    refresh_search_documents,
)
from directory.search import deferred_search_rows
from directory.taxonomy import TermTree, forget_term_choices

BATCH = 500  # ids per IN (...) list: under SQLite's limit on query parameters

MODELS: dict[str, type[models.Model]] = {
    "taxonomy_term": TaxonomyTerm,
    "organization": Organization,
    "service": Service,
    "location": Location,
    "service_at_location": ServiceAtLocation,
    "phone": Phone,
    "schedule": Schedule,
    "language": Language,
    "service_area": ServiceArea,
    "cost_option": CostOption,
    "required_document": RequiredDocument,
    "attribute": ServiceTaxonomy,
}

# A plain UTC offset (HSDS schedule.timezone) read as the US zone on standard time there.
OFFSET_ZONES = {
    -5: "America/New_York",
    -6: "America/Chicago",
    -7: "America/Denver",
    -8: "America/Los_Angeles",
    -9: "America/Anchorage",
    -10: "Pacific/Honolulu",
    -4: "America/Puerto_Rico",
    10: "Pacific/Guam",
    0: "UTC",
}


def default_timezone() -> str:
    return settings.TIME_ZONE if settings.TIME_ZONE in SUPPORTED_TIMEZONES else "America/New_York"


@dataclass(slots=True)
class Row:
    file: str
    label: int | str
    values: dict[str, object]  # typed values of the columns the row has (blank: None)
    skip: bool = False  # not to be written: it has a problem, or is skipped with a note
    warned: bool = False  # skipped with a note (not a problem): nothing more to check
    bad: frozenset[str] = frozenset()  # fields with a problem ("": the whole row)

    @property
    def id(self) -> uuid.UUID | None:
        value = self.values.get("id")
        return value if isinstance(value, uuid.UUID) else None

    def has(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str):
        return self.values.get(name)

    def missing(self, name: str) -> bool:
        """Blank or left out; not a value that was refused (its problem is already said)."""
        return self.values.get(name) is None and name not in self.bad


@dataclass
class ImportResult:
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    updated: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Rows already stored with the same values: not written, so their timestamps stay.
    unchanged: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        lines = []
        for table in schema.TABLES:
            name = table.path.removesuffix(".csv")
            created, updated, unchanged, skipped = (
                self.created.get(table.name, 0),
                self.updated.get(table.name, 0),
                self.unchanged.get(table.name, 0),
                self.skipped.get(table.name, 0),
            )
            if created or updated or unchanged or skipped:
                text = _(
                    "%(table)s: %(created)d new, %(updated)d updated, %(unchanged)d unchanged"
                ) % {
                    "table": name,
                    "created": created,
                    "updated": updated,
                    "unchanged": unchanged,
                }
                if skipped:
                    text += _(", %(skipped)d skipped") % {"skipped": skipped}
                lines.append(text)
        return lines

    def as_dict(self) -> dict:
        return {
            "created": dict(self.created),
            "updated": dict(self.updated),
            "unchanged": dict(self.unchanged),
            "skipped": dict(self.skipped),
            "lines": self.lines(),
        }


class ImportFailed(Exception):
    """The package has problems; nothing was changed."""

    def __init__(self, report: Report):
        super().__init__(_("%(n)d problems; nothing was imported") % {"n": len(report.problems)})
        self.report = report

    @property
    def problems(self):
        return self.report.problems


def import_path(
    path: Path | str, *, progress: Progress | None = None, dry_run: bool = False
) -> ImportResult:
    return import_package(read_path(path, progress=progress), progress=progress, dry_run=dry_run)


def import_upload(
    name: str, data: bytes, *, progress: Progress | None = None, dry_run: bool = False
) -> ImportResult:
    return import_package(
        read_upload(name, data, progress=progress), progress=progress, dry_run=dry_run
    )


def import_package(
    package: Package, *, progress: Progress | None = None, dry_run: bool = False
) -> ImportResult:
    """Check the package against HSDS and the directory; if it is clean, write it.

    Raises ImportFailed (with every problem found) and changes nothing when anything is wrong.
    """
    importer = _Importer(package, progress)
    importer.check()
    if package.report.failed:
        raise ImportFailed(package.report)
    importer.result.dry_run = dry_run
    if not dry_run:
        try:
            # One transaction; on PostgreSQL each service's search row is written once.
            with transaction.atomic(), deferred_search_rows():
                importer.write()
        except DatabaseError as error:
            package.report.problem(
                package.name,
                None,
                None,
                _("the database refused the import (%(error)s); nothing was changed")
                % {"error": error},
            )
            raise ImportFailed(package.report) from error
    importer.result.warnings = list(package.report.warnings)
    return importer.result


def _batches(items: Iterable, size: int = BATCH):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pk_map(model: type[models.Model], ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    found: dict[uuid.UUID, int] = {}
    for batch in _batches(set(ids)):
        found.update(model.objects.filter(hsds_id__in=batch).values_list("hsds_id", "pk"))
    return found


class _Importer:
    def __init__(self, package: Package, progress: Progress | None):
        self.package = package
        self.report = package.report
        self.progress = progress
        self.result = ImportResult()
        self.rows: dict[str, list[Row]] = {t.name: [] for t in schema.TABLES}
        self.package_ids: dict[str, set[uuid.UUID]] = defaultdict(set)
        self.db_ids: dict[str, set[uuid.UUID]] = defaultdict(set)  # referenced, already stored
        self.vocabulary_of_taxonomy: dict[uuid.UUID, str] = {}
        self.sal_parts: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]] = {}
        self.term_vocabulary: dict[uuid.UUID, str | None] = {}
        self.schedule_zone: dict[int, str] = {}
        self.pk: dict[str, dict[uuid.UUID, int]] = {}
        self.total = max(1, package.row_count)
        self.skips: dict[tuple[str, str], list[Row]] = {}
        self.done = 0
        # HSDS ids of the rows this import created or changed, by table: what the search
        # data is rebuilt from.
        self.written: dict[str, set[uuid.UUID]] = defaultdict(set)
        # Services with a row of their own (phone, schedule, term, place …) created, changed
        # or moved away: their modified date moves and their search data is rebuilt.
        self.touched_services: set[int] = set()

    # --- reporting --------------------------------------------------------------------------

    def problem(self, row: Row, field_name: str | None, message: str) -> None:
        row.bad = row.bad | {field_name or ""}
        self.report.problem(row.file, row.label, field_name, message)

    def skip(self, table: str, row: Row, reason: str) -> None:
        row.skip = row.warned = True
        self.result.skipped[table] += 1
        self.skips.setdefault((row.file, reason), []).append(row)

    def _warn_skips(self) -> None:
        """One warning per file and reason, naming the first row and counting the rest."""
        for (_file, reason), rows in self.skips.items():
            where = self.report_where(rows[0])
            if len(rows) > 1:
                where += " " + _("and %(n)d more rows like it") % {"n": len(rows) - 1}
            self.report.warn(f"{where}: {reason}")

    def report_where(self, row: Row) -> str:
        return Problem(row.file, row.label, None, "").where()

    def tick(self, phase: str, rows: int) -> None:
        self.done += rows
        if self.progress:
            self.progress(phase, min(self.done, self.total), self.total)

    # --- checking ---------------------------------------------------------------------------

    def check(self) -> None:
        for sheet in iter_tables(self.package):
            self._parse_sheet(sheet.table, sheet)
        self._check_references()
        self._check_taxonomy_terms()
        self._check_organization_identifiers()
        self._check_services()
        self._check_addresses()
        self._check_service_at_locations()
        self._check_links()
        self._check_schedules()
        self._check_languages()
        self._check_attributes()
        self._warn_skips()

    def _parse_sheet(self, table: Table, sheet) -> None:
        first_row: dict[uuid.UUID, int | str] = {}
        rows = self.rows[table.name]
        for record in sheet.records:
            row = Row(sheet.file, record.label, {})
            for name, raw in record.values.items():
                column = table.by_name.get(name)
                if column is None or not column.stored:
                    continue
                if is_blank(raw):
                    row.values[name] = None
                    continue
                try:
                    row.values[name] = parse(column, raw)
                except BadValue as error:
                    self.problem(row, name, str(error))
                    row.skip = True
            for column in table.required:
                if row.missing(column.name):
                    if column.name in record.values:
                        self.problem(row, column.name, _("is required but empty"))
                    elif self.package.is_json:
                        self.problem(row, column.name, _("is required but missing"))
                    row.skip = True
            if (own := row.id) is not None:
                if own in first_row:
                    where = place(first_row[own])
                    self.problem(
                        row,
                        "id",
                        _(
                            "the id %(id)s is used twice in this file (also at %(first)s); ids must be unique"
                        )
                        % {"id": own, "first": where},
                    )
                    row.skip = True
                else:
                    first_row[own] = record.label
                    self.package_ids[table.name].add(own)
            rows.append(row)
            if len(rows) % 1000 == 0:
                self.tick("check", 1000)
        self.tick("check", len(rows) % 1000)

    def _check_references(self) -> None:
        wanted: dict[str, set[uuid.UUID]] = defaultdict(set)
        for table in schema.TABLES:
            for row in self.rows[table.name]:
                for column in table.columns:
                    target = column.ref
                    if column.name == "link_id" and self._attribute_entity(row) == "service":
                        target = "service"
                    value = row.get(column.name)
                    if (
                        target
                        and isinstance(value, uuid.UUID)
                        and value not in self.package_ids[target]
                    ):
                        wanted[target].add(value)
        for target, ids in wanted.items():
            if target == "taxonomy":
                vocabularies = TaxonomyTerm.objects.values_list("vocabulary", flat=True).distinct()
                known = {schema.taxonomy_id(v): v for v in vocabularies}
                self.vocabulary_of_taxonomy.update(known)
                self.db_ids[target] = ids & set(known)
            else:
                self.db_ids[target] = set(_pk_map(MODELS[target], ids))
        for table in schema.TABLES:
            for row in self.rows[table.name]:
                for column in table.columns:
                    target = column.ref
                    if column.name == "link_id":
                        target = "service" if self._attribute_entity(row) == "service" else None
                    value = row.get(column.name)
                    if not target or not isinstance(value, uuid.UUID):
                        continue
                    if value not in self.package_ids[target] and value not in self.db_ids[target]:
                        self.problem(
                            row,
                            column.name,
                            _(
                                "points at %(object)s %(id)s, which is neither in this import nor in the directory"
                            )
                            % {"object": target.replace("_", " "), "id": value},
                        )
                        row.skip = True

    @staticmethod
    def _attribute_entity(row: Row) -> str:
        entity = row.get("link_entity")
        return str(entity).strip().lower() if entity else ""

    def _check_taxonomy_terms(self) -> None:
        for row in self.rows["taxonomy"]:
            if row.id and row.get("name"):
                self.vocabulary_of_taxonomy[row.id] = row.get("name")
        rows = [r for r in self.rows["taxonomy_term"] if r.id]
        existing = {}
        for batch in _batches(r.id for r in rows):
            for hsds_id, vocabulary, code, parent in TaxonomyTerm.objects.filter(
                hsds_id__in=batch
            ).values_list("hsds_id", "vocabulary", "code", "parent__hsds_id"):
                existing[hsds_id] = (vocabulary, code, parent)
        final: dict[tuple[str, str], Row] = {}
        parent_of: dict[uuid.UUID, uuid.UUID | None] = {}
        for row in rows:
            if row.get("taxonomy_id"):
                vocabulary = self.vocabulary_of_taxonomy.get(row.get("taxonomy_id"))
            elif row.get("taxonomy"):
                vocabulary = row.get("taxonomy")
            else:
                vocabulary = None
            self.term_vocabulary[row.id] = vocabulary
            old = existing.get(row.id)
            vocabulary = vocabulary or (old[0] if old else schema.DEFAULT_VOCABULARY)
            code = row.get("code") or (old[1] if old else str(row.id))
            key = (vocabulary, code)
            if key in final:
                other = final[key]
                self.problem(
                    row,
                    "code",
                    _(
                        "the code %(code)s is also used by %(other)s in the %(vocabulary)s taxonomy; codes must be unique in a taxonomy"
                    )
                    % {"code": code, "vocabulary": vocabulary, "other": self.report_where(other)},
                )
            final[key] = row
            parent_of[row.id] = (
                row.get("parent_id") if row.has("parent_id") else (old[2] if old else None)
            )
        codes = {code for _vocabulary, code in final}
        package = {r.id for r in rows}
        for batch in _batches(codes):
            for hsds_id, vocabulary, code in TaxonomyTerm.objects.filter(
                code__in=batch
            ).values_list("hsds_id", "vocabulary", "code"):
                row = final.get((vocabulary, code))
                if row is not None and hsds_id not in package:
                    self.problem(
                        row,
                        "code",
                        _(
                            "the directory already has the code %(code)s in the %(vocabulary)s taxonomy under another id (%(id)s)"
                        )
                        % {"code": code, "vocabulary": vocabulary, "id": hsds_id},
                    )
        for row in rows:
            seen, current = set(), row.id
            while current in parent_of and current not in seen:
                seen.add(current)
                current = parent_of[current]
            if current == row.id:
                self.problem(row, "parent_id", _("the term's parents lead back to the term itself"))

    def _check_organization_identifiers(self) -> None:
        for row in self.rows["organization_identifier"]:
            scheme = str(row.get("identifier_scheme") or "").upper()
            kind = str(row.get("identifier_type") or "").upper()
            if not (
                scheme == "US-EIN" or "EIN" in kind.split() or kind in {"EIN", "TAX ID", "TAX_ID"}
            ):
                self.skip(
                    "organization_identifier",
                    row,
                    _(
                        "Handoff keeps only an organization's EIN (identifier_scheme US-EIN); this identifier was skipped."
                    ),
                )

    def _check_services(self) -> None:
        partial = [
            r.id
            for r in self.rows["service"]
            if r.id and not (r.has("minimum_age") and r.has("maximum_age"))
        ]
        stored: dict[uuid.UUID, tuple[int | None, int | None]] = {}
        for batch in _batches(partial):
            for hsds_id, low, high in Service.objects.filter(hsds_id__in=batch).values_list(
                "hsds_id", "minimum_age", "maximum_age"
            ):
                stored[hsds_id] = (low, high)
        for row in self.rows["service"]:
            if row.bad & {"minimum_age", "maximum_age"}:
                continue  # a refused age is named already; the stored one says nothing
            old = stored.get(row.id, (None, None))
            low = row.get("minimum_age") if row.has("minimum_age") else old[0]
            high = row.get("maximum_age") if row.has("maximum_age") else old[1]
            if isinstance(low, int) and isinstance(high, int) and low > high:
                self.problem(
                    row,
                    "maximum_age",
                    _("the maximum age (%(high)d) is below the minimum age (%(low)d)")
                    % {"high": high, "low": low},
                )

    def _check_addresses(self) -> None:
        by_location: dict[uuid.UUID, Row] = {}
        for row in self.rows["address"]:
            location = row.get("location_id")
            country = row.get("country")
            if country is not None and (len(country) != 2 or not country.isalpha()):
                self.problem(
                    row,
                    "country",
                    _("%(value)r is not a two-letter country code such as US") % {"value": country},
                )
            if not isinstance(location, uuid.UUID) or row.skip:
                continue
            if location in by_location:
                first = by_location[location]
                # Handoff keeps one address: the physical one when there are several.
                if (
                    row.get("address_type") == "physical"
                    and first.get("address_type") != "physical"
                ):
                    by_location[location] = row
                    first, row = row, first
                self.skip(
                    "address",
                    row,
                    _(
                        "Handoff keeps one address per location; this one was skipped (the location also has %(other)s)."
                    )
                    % {"other": self.report_where(first)},
                )
            else:
                by_location[location] = row

    def _check_service_at_locations(self) -> None:
        rows = [r for r in self.rows["service_at_location"] if r.id and not r.warned]
        for row in rows:
            self.sal_parts[row.id] = (row.get("service_id"), row.get("location_id"))
        linked = {
            r.get("service_at_location_id")
            for t in ("phone", "schedule", "service_area")
            for r in self.rows[t]
            if isinstance(r.get("service_at_location_id"), uuid.UUID)
        } - set(self.sal_parts)
        for batch in _batches(linked):
            for hsds_id, service, location in ServiceAtLocation.objects.filter(
                hsds_id__in=batch
            ).values_list("hsds_id", "service__hsds_id", "location__hsds_id"):
                self.sal_parts[hsds_id] = (service, location)
        pairs: dict[tuple, str] = {}
        package = {r.id for r in rows}
        for batch in _batches({r.get("service_id") for r in rows}):
            for hsds_id, service, location in ServiceAtLocation.objects.filter(
                service__hsds_id__in=batch
            ).values_list("hsds_id", "service__hsds_id", "location__hsds_id"):
                if hsds_id not in package:
                    pairs[(service, location)] = _("the directory (id %(id)s)") % {"id": hsds_id}
        for row in rows:
            pair = (row.get("service_id"), row.get("location_id"))
            if None in pair:
                continue
            if pair in pairs:
                self.problem(
                    row,
                    "location_id",
                    _(
                        "this service is already offered at this location in %(other)s; list each service at each location once"
                    )
                    % {"other": pairs[pair]},
                )
            else:
                pairs[pair] = self.report_where(row)

    def _check_links(self) -> None:
        """Phones and service areas must belong to something Handoff keeps."""
        for row in self.rows["phone"]:
            if not row.skip and not any(
                row.get(c)
                for c in ("service_id", "location_id", "organization_id", "service_at_location_id")
            ):
                self.skip(
                    "phone",
                    row,
                    _(
                        "the phone belongs to no service, location or organization (perhaps to a contact, which Handoff does not keep); it was skipped."
                    ),
                )
        for row in self.rows["service_area"]:
            if (
                not row.warned
                and row.missing("service_id")
                and row.missing("service_at_location_id")
            ):
                self.problem(
                    row,
                    "service_id",
                    _("a service area must belong to a service or a service at a location"),
                )

    def _check_schedules(self) -> None:
        links = ("service_id", "location_id", "service_at_location_id")
        for row in self.rows["schedule"]:
            # A row with a problem is checked on: each problem of a row is named at once.
            if row.warned:
                continue
            if all(row.missing(c) for c in links):
                self.skip(
                    "schedule",
                    row,
                    _("the schedule belongs to no service or location; it was skipped."),
                )
                continue
            byday, opens = row.get("byday"), row.get("opens_at")
            if row.get("freq") == "MONTHLY" or (row.get("interval") or 1) != 1:
                self.skip(
                    "schedule",
                    row,
                    _(
                        "Handoff keeps weekly opening hours only; this monthly or every-few-weeks schedule was skipped."
                    ),
                )
                continue
            if row.missing("byday") and row.missing("opens_at") and row.missing("closes_at"):
                self.skip(
                    "schedule",
                    row,
                    _("the schedule has no days and times (only a description); it was skipped."),
                )
                continue
            days = [d.strip().upper() for d in str(byday or "").split(",") if d.strip()]
            if not days and "byday" not in row.bad:
                self.problem(
                    row, "byday", _("the days are missing: give them as MO,TU,WE,TH,FR,SA,SU")
                )
            for day in days:
                if day not in schema.WEEKDAY_CODES:
                    self.problem(
                        row,
                        "byday",
                        _("%(day)r is not a day of the week: use MO, TU, WE, TH, FR, SA or SU")
                        % {"day": day},
                    )
            for name in ("opens_at", "closes_at"):
                if row.missing(name):
                    self.problem(row, name, _("is required when the schedule lists days"))
            if (
                row.get("valid_from")
                and row.get("valid_to")
                and row.get("valid_from") > row.get("valid_to")
            ):
                self.problem(row, "valid_to", _("is before valid_from"))
            zone = row.get("handoff_timezone")
            if zone:
                if zone not in SUPPORTED_TIMEZONES:
                    self.problem(
                        row,
                        "handoff_timezone",
                        _("%(zone)r is not a time zone Handoff supports (%(zones)s)")
                        % {"zone": zone, "zones": ", ".join(SUPPORTED_TIMEZONES)},
                    )
                    continue
            else:
                offset = row.get("timezone")
                if offset is None and opens is not None and opens[1] is not None:
                    offset = opens[1] / 60
                if offset is not None:
                    zone = OFFSET_ZONES.get(offset) if float(offset).is_integer() else None
                    if zone is None:
                        self.problem(
                            row,
                            "timezone",
                            _("no US time zone Handoff supports has the UTC offset %(offset)s")
                            % {"offset": offset},
                        )
                        continue
            self.schedule_zone[id(row)] = zone or ""
            row.values["byday"] = ",".join(days)

    def _check_languages(self) -> None:
        skipped_phones = {r.id for r in self.rows["phone"] if r.warned}
        for row in self.rows["language"]:
            if row.warned:
                continue
            if row.get("phone_id") in skipped_phones:
                self.skip(
                    "language", row, _("the language's phone was skipped, so the language was too.")
                )
                continue
            if all(row.missing(c) for c in ("service_id", "location_id", "phone_id")):
                self.skip(
                    "language",
                    row,
                    _("the language belongs to no service, location or phone; it was skipped."),
                )
                continue
            if row.missing("name") and row.missing("code"):
                self.problem(row, "code", _("a language needs a name or a code (such as es)"))

    def _check_attributes(self) -> None:
        rows = []
        for row in self.rows["attribute"]:
            if row.skip:
                continue
            entity = self._attribute_entity(row)
            if entity != "service":
                self.skip(
                    "attribute",
                    row,
                    _(
                        "Handoff keeps taxonomy terms on services only; this attribute of a %(entity)s was skipped."
                    )
                    % {"entity": entity or "?"},
                )
                continue
            rows.append(row)
        package = {r.id for r in rows}
        pairs: dict[tuple, str] = {}
        for batch in _batches({r.get("link_id") for r in rows}):
            for hsds_id, service, term in ServiceTaxonomy.objects.filter(
                service__hsds_id__in=batch
            ).values_list("hsds_id", "service__hsds_id", "taxonomy_term__hsds_id"):
                if hsds_id not in package:
                    pairs[(service, term)] = _("the directory")
        for row in rows:
            pair = (row.get("link_id"), row.get("taxonomy_term_id"))
            if pair in pairs:
                self.skip(
                    "attribute",
                    row,
                    _(
                        "the service already has this taxonomy term (in %(other)s); the repeat was skipped."
                    )
                    % {"other": pairs[pair]},
                )
            else:
                pairs[pair] = self.report_where(row)

    # --- writing ----------------------------------------------------------------------------

    def write(self) -> None:
        self.done = 0
        self._write_terms()
        self._write_organizations()
        self._write_locations()
        self._write_services()
        self._write_simple("service_at_location", ["service_id", "location_id"])
        self._write_phones()
        self._write_simple(
            "language", ["service_id", "location_id", "phone_id"], extra=self._language_extra
        )
        self._write_schedules()
        self._write_service_children()
        self._write_attributes()
        self._touch_services()
        self._refresh_search()

    def _touch_services(self) -> None:
        """A service's answer in the API includes its phones, hours, terms and places: a change
        to one of them is a change to the service (modified_after must find it)."""
        now = timezone.now()
        for batch in _batches(sorted(self.touched_services)):
            Service.objects.filter(pk__in=batch).update(updated_at=now)

    def _ids(self, table: str) -> set[uuid.UUID]:
        return self.package_ids[table] | self.db_ids[table]

    def _fk(self, table: str, hsds_id) -> int | None:
        return self.pk[table][hsds_id] if hsds_id is not None else None

    def _attrs(self, table: Table, row: Row) -> dict[str, object]:
        attrs: dict[str, object] = {}
        for column in table.columns:
            if (
                column.attr
                and column.attr != "hsds_id"
                and row.has(column.name)
                and column.name != "id"
            ):
                attrs[column.attr] = row.get(column.name)  # made storable by _assign
        return attrs

    def _upsert(
        self, table_name: str, items: list[tuple[uuid.UUID, dict[str, object]]]
    ) -> list[models.Model]:
        """Insert new rows and update changed ones (by hsds_id) in bulk; returns the objects.

        One INSERT … ON CONFLICT (hsds_id) DO UPDATE per batch: bulk_update's CASE per row and
        field is a hundred times slower at tens of thousands of rows. Existing rows are loaded
        first so a row that leaves a field out keeps its stored value, and a row whose values
        are all as stored is not written at all: its updated_at (the API's modified_after)
        and its search data stay as they are.
        """
        model = MODELS[table_name]
        existing: dict[uuid.UUID, models.Model] = {}
        for batch in _batches(hsds_id for hsds_id, _attrs in items):
            existing.update((o.hsds_id, o) for o in model.objects.filter(hsds_id__in=batch))
        objs, changed, fields = [], [], set()
        created = updated = 0
        for hsds_id, attrs in items:
            obj = existing.get(hsds_id)
            if obj is None:
                obj = model(hsds_id=hsds_id)
                created += 1
            was_service = getattr(obj, "service_id", None)
            if _assign(model, obj, attrs) or obj._state.adding:
                if not obj._state.adding:
                    updated += 1
                if model is not Service:
                    self.touched_services.update(
                        pk for pk in (was_service, getattr(obj, "service_id", None)) if pk
                    )
                changed.append(obj)
                fields.update(attrs)
                self.written[table_name].add(hsds_id)
            objs.append(obj)
        self._save(model, changed, fields)
        self.result.created[table_name] += created
        self.result.updated[table_name] += updated
        self.result.unchanged[table_name] += len(items) - created - updated
        self.tick("save", len(items))
        return objs

    @staticmethod
    def _save(model: type[models.Model], objs: list[models.Model], fields: Iterable[str]) -> None:
        names = {model._meta.get_field(f).name for f in fields}
        if model is Schedule:
            names.add("days_mask")
        if any(f.name == "updated_at" for f in model._meta.concrete_fields):
            names.add("updated_at")
        if not names:  # nothing to update: only the new rows are written
            objs = [o for o in objs if o._state.adding]
        for obj in objs:
            # Inserted without the key: an existing row is found by hsds_id and updated.
            obj.pk = None
        # As many rows per statement as the database takes (Django lowers this for SQLite):
        # every statement on a service table also refreshes PostgreSQL's search rows.
        per_statement = max(1, 60_000 // len(model._meta.concrete_fields))
        model.objects.bulk_create(
            objs,
            batch_size=per_statement,
            update_conflicts=bool(names),
            unique_fields=["hsds_id"] if names else None,
            update_fields=sorted(names) or None,
        )

    def _write_terms(self) -> None:
        table = schema.TAXONOMY_TERM
        rows = [r for r in self.rows["taxonomy_term"] if not r.skip]
        items = []
        existing = _pk_map(TaxonomyTerm, (r.id for r in rows))
        for row in rows:
            attrs = self._attrs(table, row)
            vocabulary = self.term_vocabulary.get(row.id)
            if vocabulary:
                attrs["vocabulary"] = vocabulary
            elif row.id not in existing:
                attrs["vocabulary"] = schema.DEFAULT_VOCABULARY
            if not attrs.get("code"):
                attrs.pop("code", None)
                if row.id not in existing:
                    attrs["code"] = str(row.id)
            items.append((row.id, attrs))
        terms = self._upsert("taxonomy_term", items)
        self.pk["taxonomy_term"] = _pk_map(TaxonomyTerm, self._ids("taxonomy_term"))
        # Parents go in a second pass: a parent may be a term this import creates.
        with_parents = []
        for row, term in zip(rows, terms, strict=True):
            if not row.has("parent_id"):
                continue
            parent = self._fk("taxonomy_term", row.get("parent_id"))
            if term.parent_id == parent:
                continue
            if row.id not in self.written["taxonomy_term"]:  # the parent is its only change
                self.written["taxonomy_term"].add(row.id)
                self.result.updated["taxonomy_term"] += 1
                self.result.unchanged["taxonomy_term"] -= 1
            term.parent_id = parent
            with_parents.append(term)
        if with_parents:
            self._save(TaxonomyTerm, with_parents, ["parent"])
        if self.written["taxonomy_term"]:
            # Written in bulk, without the signals that clear the search form's list.
            transaction.on_commit(forget_term_choices)
        self.tick("save", len(self.rows["taxonomy"]))

    def _write_organizations(self) -> None:
        patches: dict[uuid.UUID, dict] = {}
        for row in self.rows["organization"]:
            if not row.skip:
                patches[row.id] = self._attrs(schema.ORGANIZATION, row)
        for row in self.rows["organization_identifier"]:
            if not row.skip:
                patches.setdefault(row.get("organization_id"), {})["tax_id"] = row.get("identifier")
        self._upsert("organization", list(patches.items()))
        self.pk["organization"] = _pk_map(Organization, self._ids("organization"))
        self.tick("save", len(self.rows["organization_identifier"]))

    def _write_locations(self) -> None:
        patches: dict[uuid.UUID, dict] = {}
        for row in self.rows["location"]:
            if row.skip:
                continue
            attrs = self._attrs(schema.LOCATION, row)
            if row.has("organization_id"):
                attrs["organization_id"] = self._fk("organization", row.get("organization_id"))
            patches[row.id] = attrs
        for row in self.rows["address"]:
            if row.skip:
                continue
            attrs = patches.setdefault(row.get("location_id"), {})
            attrs.update(self._attrs(schema.ADDRESS, row))
            attrs["address_hsds_id"] = row.id
        accessibility: dict[uuid.UUID, list[str]] = defaultdict(list)
        for row in self.rows["accessibility"]:
            if not row.skip:
                accessibility[row.get("location_id")].extend(
                    str(row.get(c)) for c in ("description", "details", "url") if row.get(c)
                )
        for location, parts in accessibility.items():
            patches.setdefault(location, {})["accessibility"] = "\n".join(parts)
        self._upsert("location", list(patches.items()))
        self.pk["location"] = _pk_map(Location, self._ids("location"))
        self.tick("save", len(self.rows["address"]) + len(self.rows["accessibility"]))

    def _write_services(self) -> None:
        items = []
        for row in self.rows["service"]:
            if row.skip:
                continue
            attrs = self._attrs(schema.SERVICE, row)
            attrs["organization_id"] = self._fk("organization", row.get("organization_id"))
            items.append((row.id, attrs))
        self._upsert("service", items)
        self.pk["service"] = _pk_map(Service, self._ids("service"))

    def _write_simple(self, table_name: str, fks: list[str], extra=None) -> None:
        table = schema.BY_NAME[table_name]
        model = MODELS[table_name]
        targets = {c.name: c.ref for c in table.columns if c.ref}
        items = []
        for row in self.rows[table_name]:
            if row.skip:
                continue
            attrs = self._attrs(table, row)
            for name in fks:
                if row.has(name):
                    attrs[name] = self._fk(targets[name], row.get(name))
            if extra:
                extra(row, attrs)
            items.append((row.id, attrs))
        self._upsert(table_name, items)
        if table_name in ("service_at_location", "phone"):
            self.pk[table_name] = _pk_map(model, self._ids(table_name))

    def _via_sal(self, row: Row, attrs: dict, *, location: bool) -> None:
        """A row tied only to a service at a location also belongs to its service (and location)."""
        sal = row.get("service_at_location_id")
        if sal is None:
            return
        service, place = self.sal_parts[sal]
        if not row.get("service_id"):
            attrs["service_id"] = (
                self.pk["service"].get(service) or _pk_map(Service, [service])[service]
            )
        if location and not row.get("location_id"):
            attrs["location_id"] = (
                self.pk["location"].get(place) or _pk_map(Location, [place])[place]
            )

    def _write_phones(self) -> None:
        self._write_simple(
            "phone",
            ["service_id", "location_id", "organization_id"],
            extra=lambda row, attrs: self._via_sal(row, attrs, location=True),
        )

    @staticmethod
    def _language_extra(row: Row, attrs: dict) -> None:
        if row.has("name") and not attrs.get("name"):
            attrs["name"] = row.get("code") or ""

    def _write_schedules(self) -> None:
        def extra(row: Row, attrs: dict) -> None:
            attrs["byday"] = row.get("byday")
            attrs["opens_at"] = row.get("opens_at")[0]
            attrs["closes_at"] = row.get("closes_at")[0]
            zone = self.schedule_zone.get(id(row))
            if zone:
                attrs["timezone"] = zone
            elif row.id not in self.db_ids_schedule:
                attrs["timezone"] = default_timezone()
            if row.has("service_at_location_id"):
                attrs["service_at_location_id"] = self._fk(
                    "service_at_location", row.get("service_at_location_id")
                )
            self._via_sal(row, attrs, location=False)

        self.db_ids_schedule = set(
            _pk_map(Schedule, (r.id for r in self.rows["schedule"] if not r.skip))
        )
        self._write_simple("schedule", ["service_id", "location_id"], extra=extra)

    def _write_service_children(self) -> None:
        self._write_simple(
            "service_area",
            ["service_id"],
            extra=lambda row, attrs: self._via_sal(row, attrs, location=False),
        )
        self._write_simple("cost_option", ["service_id"])
        self._write_simple("required_document", ["service_id"])

    def _write_attributes(self) -> None:
        items = []
        for row in self.rows["attribute"]:
            if row.skip:
                continue
            items.append(
                (
                    row.id,
                    {
                        "service_id": self._fk("service", row.get("link_id")),
                        "taxonomy_term_id": self._fk("taxonomy_term", row.get("taxonomy_term_id")),
                    },
                )
            )
        self._upsert("attribute", items)

    def _refresh_search(self) -> None:
        """Search words and needs derive from services, their organization and their terms.

        Only what this import created or changed is rebuilt: a re-import of the same
        package leaves every search row (and its ServiceNeed rows) as it was.
        """
        pks: set[int] = {self.pk["service"][i] for i in self.written["service"]}
        pks |= self.touched_services
        organizations = [self.pk["organization"][i] for i in self.written["organization"]]
        for batch in _batches(organizations):
            pks.update(
                Service.objects.filter(organization_id__in=batch).values_list("pk", flat=True)
            )
        if self.written["taxonomy_term"]:
            # A term's needs come from its ancestors' codes, so a renamed, recoded or moved
            # term changes the services under its descendants too.
            terms = TermTree.load().with_descendants(
                self.pk["taxonomy_term"][i] for i in self.written["taxonomy_term"]
            )
            for batch in _batches(terms):
                pks.update(
                    ServiceTaxonomy.objects.filter(taxonomy_term_id__in=batch).values_list(
                        "service_id", flat=True
                    )
                )
        # refresh_search_documents batches its own work; these batches only bound the IN list.
        for batch in _batches(sorted(pks), 10_000):
            refresh_search_documents(Service.objects.filter(pk__in=batch))


def _assign(model: type[models.Model], obj: models.Model, attrs: dict[str, object]) -> bool:
    """Set attrs on obj, each as the model stores it; True if any differs from what was there."""
    changed = False
    for name, value in attrs.items():
        new = _storable(model, name, value)
        if not changed:
            old = getattr(obj, name)
            changed = _comparable(model, name, old) != _comparable(model, name, new)
        setattr(obj, name, new)
    if isinstance(obj, Schedule):
        mask = Schedule.mask_for(obj.byday)
        changed = changed or mask != obj.days_mask
        obj.days_mask = mask
    return changed


def _comparable(model: type[models.Model], attr: str, value: object) -> object:
    """The value as the database keeps it (an amount 5 and 5.00 are the same)."""
    try:
        return model._meta.get_field(attr).to_python(value)
    except (FieldDoesNotExist, ValidationError):
        return value


def _storable(model: type[models.Model], attr: str, value: object) -> object:
    """None becomes what the model keeps for "nothing": "" for text, the default otherwise."""
    if value is None:
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return value
        if model_field.null:
            return None
        if model_field.has_default():
            return model_field.get_default()
        if isinstance(model_field, models.CharField | models.TextField):
            return ""
    return value
