"""Reading an HSDS source into rows: a data package (folder or .zip of CSV files with
datapackage.json) or HSDS JSON (a list of nested service objects).

Nothing here touches the database. Whatever cannot be read becomes a Problem naming the
file, the row and the field, so the importer can report everything at once.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from directory.hsds import schema
from directory.hsds.schema import Table
from directory.hsds.values import BadValue, is_blank, parse

# Past this many problems the rest are counted, not listed: nobody reads the 10,001st.
MAX_PROBLEMS = 500
# A zip may not unpack to more than this (a guard against zip bombs).
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
DATAPACKAGE = "datapackage.json"

csv.field_size_limit(64 * 1024 * 1024)  # GeoJSON service areas can be long cells

Progress = Callable[[str, int, int], None]


# A JSON location such as services[44].phones[0]: the item of the file it is in.
_JSON_ITEM_RE = re.compile(r"^(?P<list>services|contents|resources)\[(?P<index>\d+)\]")
_NUMBER_RE = re.compile(r"(\d+)")


def place(row: int | str | None) -> str:
    """Where in its file a row is, for a person: a CSV row number (the header is row 1), or
    the JSON path with the service it is in counted from 1, as a person counts."""
    if row is None:
        return ""
    if isinstance(row, int):
        return _("row %(row)d") % {"row": row}
    match = _JSON_ITEM_RE.match(row)
    if match is None:
        return row
    values = {"n": int(match["index"]) + 1, "path": row}
    if match["list"] == "resources":
        return _("resource %(n)d (%(path)s; JSON counts from 0)") % values
    return _("service %(n)d of the file (%(path)s; JSON counts from 0)") % values


def _natural(text: str) -> tuple:
    """services[10] after services[9]: numbers in a label compare as numbers."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in _NUMBER_RE.split(text)
        if part
    )


@dataclass(frozen=True)
class Problem:
    """Something that stops the import: where it is and what is wrong, in plain words."""

    file: str
    row: int | str | None
    field: str | None
    message: str

    def where(self) -> str:
        parts = [self.file]
        if row := place(self.row):
            parts.append(row)
        if self.field:
            parts.append(_("field %(field)s") % {"field": self.field})
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "row": self.row,
            "place": place(self.row),
            "field": self.field,
            "message": self.message,
        }

    @property
    def sort_key(self) -> tuple:
        """By file, then row (the whole file's problems first), in the order found."""
        if self.row is None or self.row == "":
            row: tuple = (0,)
        elif isinstance(self.row, int):
            row = (1, self.row)
        else:
            row = (2, _natural(self.row))
        return (self.file, row)


@dataclass
class Report:
    """Every problem found, sorted by file and row; past MAX_PROBLEMS the rest are counted."""

    more_problems: int = 0
    warnings: list[str] = field(default_factory=list)
    # (sort key, order found, problem), kept sorted: the first MAX_PROBLEMS by file and row,
    # whatever order the checks found them in.
    _kept: list[tuple[tuple, int, Problem]] = field(default_factory=list, repr=False)
    _found: int = 0

    def problem(
        self, file: str, row: int | str | None, field_name: str | None, message: str
    ) -> None:
        found = Problem(file, row, field_name, message)
        entry = (found.sort_key, self._found, found)
        self._found += 1
        if len(self._kept) >= MAX_PROBLEMS:
            self.more_problems += 1
            if entry >= self._kept[-1]:
                return
            self._kept.pop()
        bisect.insort(self._kept, entry)

    @property
    def problems(self) -> list[Problem]:
        return [problem for _key, _order, problem in self._kept]

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    @property
    def failed(self) -> bool:
        return bool(self._kept)

    def problem_lines(self) -> list[str]:
        lines = [str(p) for p in self.problems]
        if self.more_problems:
            lines.append(_("… and %(n)d more problems.") % {"n": self.more_problems})
        return lines


@dataclass(slots=True)
class Record:
    label: int | str  # a CSV row number (the header is row 1) or a JSON path
    values: dict[str, object]


@dataclass
class Sheet:
    """The rows of one HSDS table, as read."""

    table: Table
    file: str
    columns: set[str] = field(default_factory=set)
    records: list[Record] = field(default_factory=list)


@dataclass
class Package:
    name: str
    sheets: dict[str, Sheet]
    report: Report
    is_json: bool = False

    def sheet(self, table: Table) -> Sheet:
        return self.sheets.get(table.name) or Sheet(table, table.path)

    @property
    def row_count(self) -> int:
        return sum(len(s.records) for s in self.sheets.values())


# --- entry points ---------------------------------------------------------------------------


def read_path(path: Path | str, *, progress: Progress | None = None) -> Package:
    """A folder, a .zip, a datapackage.json (its folder is read) or an HSDS .json file."""
    path = Path(path)
    report = Report()
    if path.is_dir():
        return _read_files(path.name, _FolderFiles(path), report, progress)
    if not path.exists():
        report.problem(path.name, None, None, _("there is no such file or folder"))
        return Package(path.name, {}, report)
    if path.name == DATAPACKAGE:
        return _read_files(path.parent.name, _FolderFiles(path.parent), report, progress)
    return read_upload(path.name, path.read_bytes(), progress=progress)


def read_upload(name: str, data: bytes, *, progress: Progress | None = None) -> Package:
    """An uploaded .zip data package or .json file."""
    report = Report()
    lowered = name.lower()
    if lowered.endswith(".json"):
        return _read_json(name, data, report)
    if lowered.endswith(".zip") or data[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zlib.error, ValueError, EOFError):
            if _looks_like_zip(data):
                message = _(
                    "is not a readable zip file: it may have been cut short (truncated) while "
                    "downloading or uploading, or be damaged. Make the zip again and retry."
                )
            else:
                message = _(
                    "is not a zip archive. Upload the data package as a .zip of CSV files with "
                    "datapackage.json, or as HSDS JSON."
                )
            report.problem(name, None, None, message)
            return Package(name, {}, report)
        return _read_files(name, _ZipFiles(name, archive, report), report, progress)
    report.problem(
        name,
        None,
        None,
        _("is neither a .zip data package nor a .json file. Upload one of those."),
    )
    return Package(name, {}, report)


def _looks_like_zip(data: bytes) -> bool:
    """Whether bytes zipfile could not open were meant to be a zip (so are cut short or
    damaged): a zip starts with "PK" (a file's header, or an empty archive's end record), and
    one with something before it (a self-extracting zip) still ends with its end record,
    which sits in the last 64 KiB plus 22 bytes."""
    return data[:2] == b"PK" or b"PK\x05\x06" in data[-(65536 + 22) :]


# --- where the files come from --------------------------------------------------------------


class _FolderFiles:
    def __init__(self, root: Path):
        self.root = root

    def names(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
        )

    def read(self, name: str) -> bytes | None:
        return (self.root / name).read_bytes()


class _ZipFiles:
    def __init__(self, label: str, archive: zipfile.ZipFile, report: Report):
        self.label = label
        self.archive = archive
        self.report = report
        self.too_big = sum(i.file_size for i in archive.infolist()) > MAX_UNPACKED_BYTES
        if self.too_big:
            report.problem(
                label,
                None,
                None,
                _("unpacks to more than %(gb)d GB; split it into smaller imports")
                % {"gb": MAX_UNPACKED_BYTES // 1024**3},
            )

    def names(self) -> list[str]:
        if self.too_big:
            return []
        return sorted(
            i.filename
            for i in self.archive.infolist()
            if not i.is_dir() and not i.filename.startswith("__MACOSX/")
        )

    def read(self, name: str) -> bytes | None:
        try:
            return self.archive.read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            self.report.problem(
                f"{self.label}: {name}",
                None,
                None,
                _("could not be unpacked (%(error)s): the zip is truncated or damaged.")
                % {"error": error},
            )
            return None


# --- tabular data packages ------------------------------------------------------------------


def _read_files(label: str, files, report: Report, progress: Progress | None) -> Package:
    names = files.names()
    # The package's folder is where datapackage.json sits (zips often wrap it in a folder).
    descriptors = sorted(
        (n for n in names if posixpath.basename(n) == DATAPACKAGE), key=lambda n: n.count("/")
    )
    base = posixpath.dirname(descriptors[0]) if descriptors else _common_folder(names)
    wanted: dict[str, Table] = {}  # file name inside the source -> table
    if descriptors:
        wanted = _tables_from_descriptor(descriptors[0], files, base, report)
    else:
        report.warn(
            _(
                "%(source)s has no datapackage.json; files were matched by their HSDS names (services.csv, …)."
            )
            % {"source": label}
        )
    if not descriptors or wanted is None:
        wanted = {}
        for name in names:
            rel = _relative(name, base)
            if rel in schema.BY_PATH:
                wanted[name] = schema.BY_PATH[rel]
    stored_elsewhere = {path: name for name, path in schema.NOT_STORED.items()}
    for name in names:
        rel = _relative(name, base)
        if name in wanted or rel is None or not rel.lower().endswith(".csv"):
            continue
        if rel in stored_elsewhere:
            report.warn(
                _("%(file)s was not imported: Handoff does not keep %(object)s records.")
                % {"file": rel, "object": stored_elsewhere[rel]}
            )
        elif rel in schema.BY_PATH:
            report.warn(
                _("%(file)s is not listed in datapackage.json; it was skipped.") % {"file": rel}
            )
        else:
            report.warn(
                _("%(file)s is not an HSDS table Handoff reads; it was skipped.") % {"file": rel}
            )
    sheets: dict[str, Sheet] = {}
    for done, (name, table) in enumerate(
        sorted(wanted.items(), key=lambda kv: schema.TABLES.index(kv[1])), 1
    ):
        data = files.read(name)
        if data is not None:
            display = _relative(name, base) or name
            if table.name in sheets:
                report.problem(
                    display,
                    None,
                    None,
                    _("a second file for the %(table)s table") % {"table": table.name},
                )
            else:
                sheets[table.name] = _read_csv(display, data, table, report)
        if progress:
            progress("read", done, len(wanted))
    return Package(label, sheets, report)


def _common_folder(names: list[str]) -> str:
    folders = {posixpath.dirname(n) for n in names if n.lower().endswith(".csv")}
    return folders.pop() if len(folders) == 1 else ""


def _relative(name: str, base: str) -> str | None:
    if not base:
        return name
    prefix = base.rstrip("/") + "/"
    return name[len(prefix) :] if name.startswith(prefix) else None


def _tables_from_descriptor(
    descriptor: str, files, base: str, report: Report
) -> dict[str, Table] | None:
    """File name -> table, from the resources of datapackage.json (None: fall back to names)."""
    data = files.read(descriptor)
    if data is None:
        return None
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        report.problem(DATAPACKAGE, None, None, _("is not UTF-8 text"))
        return None
    except json.JSONDecodeError as error:
        report.problem(
            DATAPACKAGE,
            _("line %(line)d") % {"line": error.lineno},
            None,
            _("is not valid JSON: %(error)s") % {"error": error.msg},
        )
        return None
    resources = document.get("resources") if isinstance(document, dict) else None
    if not isinstance(resources, list):
        report.problem(DATAPACKAGE, None, "resources", _("must be a list of the package's files"))
        return None
    found: dict[str, Table] = {}
    for index, resource in enumerate(resources):
        label = f"resources[{index}]"
        if not isinstance(resource, dict):
            report.problem(DATAPACKAGE, label, None, _("must be an object"))
            continue
        path = resource.get("path")
        name = resource.get("name")
        if not isinstance(path, str) or not path:
            report.problem(
                DATAPACKAGE, label, "path", _("is missing: each resource names its CSV file")
            )
            continue
        normalized = posixpath.normpath(path)
        if normalized.startswith(("../", "/")) or normalized == "..":
            report.problem(
                DATAPACKAGE,
                label,
                "path",
                _("points outside the package: %(path)s") % {"path": path},
            )
            continue
        table = schema.BY_NAME.get(name) or schema.BY_PATH.get(posixpath.basename(normalized))
        if table is None:
            if name in schema.NOT_STORED:
                report.warn(
                    _("%(file)s was not imported: Handoff does not keep %(object)s records.")
                    % {"file": path, "object": name}
                )
            else:
                report.warn(
                    _("The resource %(name)s is not an HSDS table Handoff reads; it was skipped.")
                    % {"name": name or path}
                )
            continue
        full = posixpath.join(base, normalized) if base else normalized
        if full not in set(files.names()):
            report.problem(
                DATAPACKAGE,
                label,
                "path",
                _("names %(path)s, which is not in the package") % {"path": path},
            )
            continue
        found[full] = table
    return found


_HEADER_RE = re.compile(r"\s+")


def _read_csv(file: str, data: bytes, table: Table, report: Report) -> Sheet:
    sheet = Sheet(table, file)
    try:
        text = data.decode("utf-8-sig")
        undecodable = False
    except UnicodeDecodeError:
        # Decode anyway, keeping the bad bytes as surrogates, to say which cells hold them.
        text = data.decode("utf-8-sig", errors="surrogateescape")
        undecodable = True
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        report.problem(
            file, 1, None, _("the header row cannot be read as CSV: %(error)s") % {"error": error}
        )
        return sheet
    if header is None:
        report.warn(_("%(file)s is empty.") % {"file": file})
        return sheet
    names = [_HEADER_RE.sub("", h).lower() for h in header]
    if undecodable and any(_bad_bytes(h) for h in header):
        report.problem(file, 1, None, _not_utf8(header))
        names = [_clean(n) for n in names]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            report.problem(file, 1, name, _("the column appears twice in the header row"))
        seen.add(name)
    sheet.columns = set(names)
    for column in table.required:
        if column.name not in sheet.columns:
            report.problem(
                file, 1, column.name, _("the column is missing from the header row; it is required")
            )
    ignored = sorted(
        n for n in names if n and (n not in table.by_name or not table.by_name[n].stored)
    )
    ignored_with_data: set[str] = set()
    row_number = 1
    try:
        for cells in reader:
            row_number += 1
            if not any(c.strip() for c in cells):
                continue  # a blank line
            if len(cells) != len(names):
                report.problem(
                    file,
                    row_number,
                    None,
                    _("the row has %(cells)d cells but the header has %(columns)d columns")
                    % {"cells": len(cells), "columns": len(names)},
                )
                continue
            values: dict[str, object] = {}
            for name, cell in zip(names, cells, strict=True):
                if undecodable and _bad_bytes(cell):
                    report.problem(file, row_number, name, _not_utf8(cell))
                    cell = _clean(cell)
                if name in ignored:
                    if cell.strip():
                        ignored_with_data.add(name)
                    continue
                values[name] = cell
            sheet.records.append(Record(row_number, values))
    except csv.Error as error:
        report.problem(
            file, row_number + 1, None, _("cannot be read as CSV: %(error)s") % {"error": error}
        )
    if ignored_with_data:
        report.warn(
            _(
                "%(file)s: Handoff does not keep the column(s) %(columns)s; their values were ignored."
            )
            % {"file": file, "columns": ", ".join(sorted(ignored_with_data))}
        )
    return sheet


def _bad_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _clean(text: str) -> str:
    return "".join("\ufffd" if "\udc80" <= ch <= "\udcff" else ch for ch in text)


def _not_utf8(text: str) -> str:
    byte = next(ord(ch) - 0xDC00 for ch in text if "\udc80" <= ch <= "\udcff")
    return _(
        "is not UTF-8 text (it contains the byte 0x%(byte)02X, as files saved in Excel's "
        "“CSV” or Windows-1252 format do). Save the file as “CSV UTF-8” and import again."
    ) % {"byte": byte}


# --- HSDS JSON ------------------------------------------------------------------------------

# Under an object of the left table, a key holding objects of another table, and how they
# link: "down" (the child gets the parent's id in link_column) or "up" (the parent gets the
# child's id in link_column).
NESTING: dict[str, dict[str, tuple[str, str, str]]] = {
    "service": {
        "organization": ("organization", "organization_id", "up"),
        "service_at_locations": ("service_at_location", "service_id", "down"),
        "phones": ("phone", "service_id", "down"),
        "schedules": ("schedule", "service_id", "down"),
        "service_areas": ("service_area", "service_id", "down"),
        "languages": ("language", "service_id", "down"),
        "cost_options": ("cost_option", "service_id", "down"),
        "required_documents": ("required_document", "service_id", "down"),
        "attributes": ("attribute", "link_id", "down"),
    },
    "organization": {
        "services": ("service", "organization_id", "down"),
        "phones": ("phone", "organization_id", "down"),
        "locations": ("location", "organization_id", "down"),
        "organization_identifiers": ("organization_identifier", "organization_id", "down"),
        "attributes": ("attribute", "link_id", "down"),
    },
    "location": {
        "addresses": ("address", "location_id", "down"),
        "accessibility": ("accessibility", "location_id", "down"),
        "phones": ("phone", "location_id", "down"),
        "languages": ("language", "location_id", "down"),
        "schedules": ("schedule", "location_id", "down"),
        "attributes": ("attribute", "link_id", "down"),
    },
    "service_at_location": {
        "service": ("service", "service_id", "up"),
        "location": ("location", "location_id", "up"),
        "phones": ("phone", "service_at_location_id", "down"),
        "schedules": ("schedule", "service_at_location_id", "down"),
        "service_areas": ("service_area", "service_at_location_id", "down"),
        "attributes": ("attribute", "link_id", "down"),
    },
    "phone": {"languages": ("language", "phone_id", "down")},
    "attribute": {"taxonomy_term": ("taxonomy_term", "taxonomy_term_id", "up")},
    "taxonomy_term": {"taxonomy_detail": ("taxonomy", "taxonomy_id", "up")},
}
_NOT_STORED_KEYS = {
    "contacts",
    "funding",
    "program",
    "programs",
    "metadata",
    "capacities",
    "service_capacities",
}


def _read_json(name: str, data: bytes, report: Report) -> Package:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        report.problem(
            name,
            _("line %(line)d") % {"line": line},
            None,
            _(
                "is not UTF-8 text (it contains the byte 0x%(byte)02X). Save the file as UTF-8 and import again."
            )
            % {"byte": data[error.start]},
        )
        return Package(name, {}, report, is_json=True)
    except json.JSONDecodeError as error:
        report.problem(
            name,
            _("line %(line)d") % {"line": error.lineno},
            None,
            _("is not valid JSON: %(error)s (column %(column)d)")
            % {"error": error.msg, "column": error.colno},
        )
        return Package(name, {}, report, is_json=True)
    # A list of services; an HSDS API page ({"contents": [...]}); or one service.
    if isinstance(document, dict) and isinstance(document.get("contents"), list):
        items, root = document["contents"], "contents"
    elif isinstance(document, list):
        items, root = document, "services"
    elif isinstance(document, dict) and "id" in document:
        items, root = [document], "service"
    else:
        report.problem(name, None, None, _("must hold a list of HSDS service objects"))
        return Package(name, {}, report, is_json=True)
    flattener = _Flattener(name, report)
    for index, item in enumerate(items):
        label = f"{root}[{index}]" if root != "service" else root
        flattener.add("service", item, label, top_level=True)
    return Package(name, flattener.sheets, report, is_json=True)


class _Flattener:
    """Nested JSON objects into rows of their tables; repeated objects are kept once."""

    def __init__(self, file: str, report: Report):
        self.file = file
        self.report = report
        self.sheets: dict[str, Sheet] = {}
        self.seen: dict[tuple[str, str], tuple[str, dict]] = {}

    def add(
        self,
        table_name: str,
        obj: object,
        label: str,
        *,
        top_level: bool = False,
        inherited: dict | None = None,
        check_only: bool = False,
    ) -> object:
        """Add obj (and what it nests) as rows; return its id (or None).

        check_only: obj is inside a repeat that differs from the first object with its id.
        Its values are checked, so each bad one is named, but it adds no rows: its links
        lead to the repeated id, and checks across rows would only echo that problem.
        """
        table = schema.BY_NAME[table_name]
        if not isinstance(obj, dict):
            self.report.problem(self.file, label, None, _("must be an object"))
            return None
        values: dict[str, object] = {}
        children: list[tuple[str, object, str, str, str]] = []
        nesting = NESTING.get(table_name, {})
        for key, value in obj.items():
            if key in nesting:
                child_table, link, direction = nesting[key]
                children.append((key, value, child_table, link, direction))
            elif key in table.by_name:
                if table.by_name[key].stored:
                    values[key] = value
                elif not _blank_json(value):
                    self.report.warn(
                        _(
                            "%(file)s: Handoff does not keep %(object)s.%(field)s; those values were ignored."
                        )
                        % {"file": self.file, "object": table_name, "field": key}
                    )
            elif key in _NOT_STORED_KEYS and not _blank_json(value):
                self.report.warn(
                    _(
                        "%(file)s: Handoff does not keep %(object)s.%(field)s; those values were ignored."
                    )
                    % {"file": self.file, "object": table_name, "field": key}
                )
        for key, value in (inherited or {}).items():
            if _blank_json(values.get(key)):
                values[key] = value
        own_id = values.get("id")
        # Single objects this one points at ("up") come first, so their ids fill our columns.
        for key, value, child_table, link, direction in children:
            if direction == "up" and value is not None:
                child_id = self.add(child_table, value, f"{label}.{key}", check_only=check_only)
                if child_id is not None and _blank_json(values.get(link)):
                    values[link] = child_id
        if table_name == "attribute" and _blank_json(values.get("link_entity")) and inherited:
            values["link_entity"] = inherited.get("_entity")
        values.pop("_entity", None)
        if check_only:
            kept = _SAME if self._repeats(table, values) else _CONFLICT
        else:
            kept = self._keep(table, label, values, top_level)
        if kept is _SAME:
            return own_id  # the same object repeated (an organization nested in each service)
        if kept is _CONFLICT:
            self._check_values(table, label, values)
        for key, value, child_table, link, direction in children:
            if direction != "down" or value is None:
                continue
            if not isinstance(value, list):
                self.report.problem(self.file, f"{label}.{key}", None, _("must be a list"))
                continue
            passed = {link: own_id} if own_id is not None else {}
            if child_table == "attribute":
                passed["_entity"] = table_name
            for index, child in enumerate(value):
                self.add(
                    child_table,
                    child,
                    f"{label}.{key}[{index}]",
                    inherited=passed,
                    check_only=kept is _CONFLICT,
                )
        return own_id

    def _keep(self, table: Table, label: str, values: dict, top_level: bool) -> str:
        """Add the object's row unless its id was seen before: _KEPT, _SAME or _CONFLICT.

        A repeat that differs is a problem; add() still checks its values and what it
        nests, so a bad value in it is named too (it may be why the two differ).
        """
        own_id = values.get("id")
        sheet = self.sheets.setdefault(table.name, Sheet(table, self.file))
        sheet.columns.update(values)
        if isinstance(own_id, str) and own_id.strip():
            key = (table.name, own_id.strip().lower())
            if key in self.seen:
                first_label, first_values = self.seen[key]
                differ = _differ(first_values, values)
                if not (top_level or differ):
                    return _SAME
                first = place(first_label)
                if differ:
                    message = _(
                        "the id %(id)s is used again for a different %(object)s: the first is "
                        "at %(first)s, and they differ in %(fields)s; ids must be unique"
                    ) % {
                        "id": own_id,
                        "object": table.name.replace("_", " "),
                        "first": first,
                        "fields": ", ".join(differ),
                    }
                else:
                    message = _(
                        "the id %(id)s is used again for another %(object)s: the first is at "
                        "%(first)s; ids must be unique"
                    ) % {"id": own_id, "object": table.name.replace("_", " "), "first": first}
                self.report.problem(self.file, label, "id", message)
                return _CONFLICT
            self.seen[key] = (label, values)
        sheet.records.append(Record(label, values))
        return _KEPT

    def _repeats(self, table: Table, values: dict) -> bool:
        """An object seen before with the same values (it was checked there)."""
        own_id = values.get("id")
        if not isinstance(own_id, str):
            return False
        first = self.seen.get((table.name, own_id.strip().lower()))
        return first is not None and not _differ(first[1], values)

    def _check_values(self, table: Table, label: str, values: dict) -> None:
        """The importer's checks of each value, for an object that adds no row."""
        for key, raw in values.items():
            column = table.by_name.get(key)
            if column is None or not column.stored or key == "id" or is_blank(raw):
                continue
            try:
                parse(column, raw)
            except BadValue as error:
                self.report.problem(self.file, label, key, str(error))


_KEPT, _SAME, _CONFLICT = "kept", "same", "conflict"


def _differ(first: dict, again: dict) -> list[str]:
    """The fields a repeated object gives a value that is not the first one's."""
    return [k for k, v in again.items() if k in first and not _blank_json(v) and first[k] != v]


def _blank_json(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def iter_tables(package: Package) -> Iterator[Sheet]:
    for table in schema.TABLES:
        if table.name in package.sheets:
            yield package.sheets[table.name]
