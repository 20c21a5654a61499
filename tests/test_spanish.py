"""The Spanish catalog covers the whole interface: every message the code and templates mark is
in it, translated and not left fuzzy, and the committed .mo says what the .po says. And the
pages that belong to no app (errors) in Spanish."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.spanish import SPANISH_CATALOG, assert_spanish, in_spanish, msgids_of, text_of

ROOT = Path(settings.BASE_DIR)
PO = SPANISH_CATALOG.with_suffix(".po")
# What makemessages leaves out (Makefile: messages), and where nothing is marked.
NOT_SCANNED = {".venv", "node_modules", "static", "tests", "e2e", "benchmarks", "locale", ".git"}
GETTEXT_CALLS = {
    "_": (None, 0),
    "gettext": (None, 0),
    "gettext_lazy": (None, 0),
    "gettext_noop": (None, 0),
    "pgettext": (0, 1),
    "pgettext_lazy": (0, 1),
    "ngettext": (None, 0),
    "ngettext_lazy": (None, 0),
    "npgettext": (0, 1),
    "npgettext_lazy": (0, 1),
}


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (a list) and flags."""
    entries: list[dict] = []
    entry: dict = {}
    key = None

    def close():
        if "msgid" in entry:
            entries.append(entry.copy())
        entry.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            close()
            key = None
        elif line.startswith("#~"):
            continue  # obsolete: makemessages keeps them commented out, unused
        elif line.startswith("#,"):
            if "msgid" in entry:
                close()
            entry.setdefault("flags", set()).update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if key == "msgstr":
                entry["msgstr"][-1] += value
            else:
                entry[key] += value
        else:
            word, _, value = line.partition(" ")
            if word.startswith("msgstr"):
                key = "msgstr"
                entry.setdefault("msgstr", []).append(ast.literal_eval(value))
            else:
                if word == "msgctxt" and "msgid" in entry:
                    close()
                key = word
                entry[key] = ast.literal_eval(value)
    close()
    return entries


def catalog_key(entry: dict) -> str:
    return f"{entry['msgctxt']}\x04{entry['msgid']}" if "msgctxt" in entry else entry["msgid"]


def marked_in_python(path: Path) -> set[str]:
    """The messages a Python file marks: the literal arguments of its gettext calls."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in GETTEXT_CALLS:
            continue
        context, message = GETTEXT_CALLS[name]
        args = node.args
        if len(args) <= message or not all(
            isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args[: message + 1]
        ):
            continue  # a variable: its literal is marked where it is written
        text = args[message].value
        found.add(f"{args[context].value}\x04{text}" if context is not None else text)
    return found


def project_files(pattern: str):
    for path in sorted(ROOT.rglob(pattern)):
        if not NOT_SCANNED.intersection(path.relative_to(ROOT).parts):
            yield path


def test_every_message_in_the_catalog_is_translated_and_none_is_left_fuzzy():
    entries = [e for e in po_entries(PO) if e["msgid"]]  # not the header
    assert len(entries) > 1000

    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"])]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e.get("flags", ())]

    assert untranslated == [] and fuzzy == [], (
        "translate these in locale/es/LC_MESSAGES/django.po, then run `make messages`:\n"
        + "\n".join(untranslated + fuzzy)
    )


def test_the_compiled_catalog_says_what_the_po_says():
    with SPANISH_CATALOG.open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)._catalog

    stale = []
    for entry in po_entries(PO):
        if not entry["msgid"]:
            continue
        key = catalog_key(entry)
        if "msgid_plural" in entry:
            got = [compiled.get((key, n)) for n in range(len(entry["msgstr"]))]
        else:
            got = [compiled.get(key)]
        if got != entry["msgstr"]:
            stale.append(entry["msgid"])

    assert stale == [], "the .mo is older than the .po: run `make messages`\n" + "\n".join(stale)


def test_every_message_the_code_and_templates_mark_is_in_the_catalog():
    in_catalog = {catalog_key(e) for e in po_entries(PO)}
    marked: dict[str, str] = {}
    for path in project_files("*.py"):
        marked.update((m, str(path.relative_to(ROOT))) for m in marked_in_python(path))
    for pattern in ("*.html", "*.txt"):
        for path in project_files(pattern):
            if "templates" not in path.relative_to(ROOT).parts:
                continue
            for m in msgids_of(path):
                marked[m[0] if isinstance(m, tuple) else m] = str(path.relative_to(ROOT))
    # Some of what the check reads, so that it cannot pass by reading nothing.
    assert marked["Page not found"] == "templates/404.html"
    assert "the import stopped on an unexpected error; nothing was changed" in marked

    missing = sorted(f"{where}: {m!r}" for m, where in marked.items() if m not in in_catalog)

    assert missing == [], "run `make messages` and translate:\n" + "\n".join(missing)


def test_a_page_that_is_not_there_says_so_in_spanish(client, referrer):
    in_spanish(client, referrer)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert_spanish(
        text_of(response.content.decode()),
        spanish=["No encontramos esa página", "Ir a la página de inicio"],
        english=["We can't find that page", "Go to the home page"],
    )


@pytest.mark.django_db
def test_a_form_sent_without_its_security_token_says_what_to_do_in_spanish(client):
    csrf_client = client.__class__(enforce_csrf_checks=True)
    csrf_client.cookies["django_language"] = "es"

    response = csrf_client.post(reverse("account_login"), {"login": "a@example.org"})

    assert response.status_code == 403
    assert_spanish(
        text_of(response.content.decode()),
        spanish=["Vuelva a intentarlo", "Por su seguridad, no pudimos aceptar ese formulario."],
        english=["Please try again", "For your safety", "Forbidden"],
    )
