"""Write the whole directory as an HSDS 3.0 tabular data package (a folder or a .zip)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from django.db import models
from django.utils import timezone

from directory.hsds import rows, schema
from directory.hsds.reader import DATAPACKAGE, Progress
from directory.hsds.schema import Table
from directory.hsds.values import format_value
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

CHUNK = 2000


def _each(qs: models.QuerySet, to_row: Callable[[models.Model], dict | None]) -> Iterator[dict]:
    for obj in qs.order_by("pk").iterator(chunk_size=CHUNK):
        row = to_row(obj)
        if row is not None:
            yield row


def _sources() -> list[tuple[Table, models.QuerySet | None, Callable[[], Iterable[dict]]]]:
    """(table, queryset to count, rows) in the package's order."""
    vocabularies = (
        TaxonomyTerm.objects.order_by("vocabulary").values_list("vocabulary", flat=True).distinct()
    )
    locations = Location.objects.select_related("organization")
    organizations = Organization.objects.all()
    return [
        (schema.TAXONOMY, None, lambda: (rows.taxonomy_row(v) for v in vocabularies)),
        (
            schema.TAXONOMY_TERM,
            TaxonomyTerm.objects.all(),
            lambda: _each(TaxonomyTerm.objects.select_related("parent"), rows.taxonomy_term_row),
        ),
        (schema.ORGANIZATION, organizations, lambda: _each(organizations, rows.organization_row)),
        (
            schema.ORGANIZATION_IDENTIFIER,
            None,
            lambda: _each(organizations.exclude(tax_id=""), rows.organization_identifier_row),
        ),
        (
            schema.SERVICE,
            Service.objects.all(),
            lambda: _each(Service.objects.select_related("organization"), rows.service_row),
        ),
        (schema.LOCATION, Location.objects.all(), lambda: _each(locations, rows.location_row)),
        (schema.ADDRESS, None, lambda: _each(Location.objects.all(), rows.address_row)),
        (
            schema.ACCESSIBILITY,
            None,
            lambda: _each(Location.objects.exclude(accessibility=""), rows.accessibility_row),
        ),
        (
            schema.SERVICE_AT_LOCATION,
            ServiceAtLocation.objects.all(),
            lambda: _each(
                ServiceAtLocation.objects.select_related("service", "location"),
                rows.service_at_location_row,
            ),
        ),
        (
            schema.PHONE,
            Phone.objects.all(),
            lambda: _each(
                Phone.objects.select_related("service", "location", "organization"), rows.phone_row
            ),
        ),
        (
            schema.SCHEDULE,
            Schedule.objects.all(),
            lambda: _each(
                Schedule.objects.select_related("service", "location", "service_at_location"),
                rows.schedule_row,
            ),
        ),
        (
            schema.LANGUAGE,
            Language.objects.all(),
            lambda: _each(
                Language.objects.select_related("service", "location", "phone"), rows.language_row
            ),
        ),
        (
            schema.SERVICE_AREA,
            ServiceArea.objects.all(),
            lambda: _each(ServiceArea.objects.select_related("service"), rows.service_area_row),
        ),
        (
            schema.COST_OPTION,
            CostOption.objects.all(),
            lambda: _each(CostOption.objects.select_related("service"), rows.cost_option_row),
        ),
        (
            schema.REQUIRED_DOCUMENT,
            RequiredDocument.objects.all(),
            lambda: _each(
                RequiredDocument.objects.select_related("service"), rows.required_document_row
            ),
        ),
        (
            schema.ATTRIBUTE,
            ServiceTaxonomy.objects.all(),
            lambda: _each(
                ServiceTaxonomy.objects.select_related("service", "taxonomy_term"),
                rows.attribute_row,
            ),
        ),
    ]


def export_directory(path: Path | str, *, progress: Progress | None = None) -> dict[str, int]:
    """Write every directory row to path (a folder, or a .zip when the name ends in .zip).

    Returns the number of rows per HSDS table.
    """
    path = Path(path)
    if path.suffix.lower() == ".zip":
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            return write_zip(out, progress=progress)
    path.mkdir(parents=True, exist_ok=True)
    writer = _Writer(progress)
    for table, make_rows in writer.sources:
        with (path / table.path).open("w", encoding="utf-8", newline="") as out:
            writer.write_table(table, make_rows, out)
    (path / DATAPACKAGE).write_text(writer.descriptor(), encoding="utf-8")
    return writer.counts


def write_zip(out: BinaryIO, *, progress: Progress | None = None) -> dict[str, int]:
    """Write the data package as a zip into a binary file object."""
    writer = _Writer(progress)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table, make_rows in writer.sources:
            with (
                archive.open(table.path, "w") as raw,
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
            ):
                writer.write_table(table, make_rows, text)
        archive.writestr(DATAPACKAGE, writer.descriptor())
    return writer.counts


class _Writer:
    def __init__(self, progress: Progress | None):
        self.progress = progress
        sources = _sources()
        self.total = max(1, sum(qs.count() for _table, qs, _rows in sources if qs is not None))
        self.counted = {t.name for t, qs, _rows in sources if qs is not None}
        self.sources = [(table, make_rows) for table, _qs, make_rows in sources]
        self.counts: dict[str, int] = {}
        self.done = 0
        self.created = timezone.now().isoformat(timespec="seconds")

    def write_table(self, table: Table, make_rows, out) -> None:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([c.name for c in table.columns])
        n = 0
        for row in make_rows():
            writer.writerow([format_value(row.get(c.name)) for c in table.columns])
            n += 1
            if self.progress and n % CHUNK == 0 and table.name in self.counted:
                self.progress("export", min(self.done + n, self.total), self.total)
        self.counts[table.name] = n
        if table.name in self.counted:
            self.done += n
        if self.progress:
            self.progress("export", min(self.done, self.total), self.total)

    def descriptor(self) -> str:
        document = schema.datapackage_descriptor(created=self.created, row_counts=self.counts)
        return json.dumps(document, indent=2) + "\n"
