"""Helpers for the tests of the Spanish interface: render a page as a Spanish reader would,
read its text, and check the catalog has every message a template asks for."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

from django.conf import settings
from django.utils.translation.template import templatize

SPANISH_CATALOG = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.mo"


def in_spanish(client, user):
    client.force_login(user)
    client.cookies["django_language"] = "es"
    return client


def text_of(html: str) -> str:
    """What a person reads: the page without its tags and scripts, spaces collapsed."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    # Text marked as another language on purpose: the footer names each language in its own.
    html = re.sub(r'<option[^>]*\slang="(?!es")[^"]*"[^>]*>.*?</option>', " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def assert_spanish(text: str, spanish: list[str], english: list[str]) -> None:
    missing = [s for s in spanish if s not in text]
    left = [e for e in english if e in text]
    # (pytest does not explain asserts outside test modules: say what failed, and the page.)
    assert not missing and not left, f"Missing: {missing}\nEnglish left: {left}\nPage: {text}"


def msgids_of(template: Path) -> set[str | tuple[str, int]]:
    """The msgids a template asks for, as the catalog keys them (plurals by their first form)."""
    found: set[str | tuple[str, int]] = set()
    code = templatize(template.read_text(encoding="utf-8"), origin=str(template))
    for name, args in re.findall(r"\b(n?p?gettext)\(((?:u?'(?:[^'\\]|\\.)*'|[\s,\w])*)\)", code):
        strings = [ast.literal_eval(s) for s in re.findall(r"u?'(?:[^'\\]|\\.)*'", args)]
        if name.startswith("np"):
            found.add((f"{strings[0]}\x04{strings[1]}", 0))
        elif name.startswith("p"):
            found.add(f"{strings[0]}\x04{strings[1]}")
        elif name.startswith("n"):
            found.add((strings[0], 0))
        else:
            found.add(strings[0])
    return found


def template_msgids(folder: str) -> set[str | tuple[str, int]]:
    """Every msgid of the templates in templates/<folder>."""
    templates = sorted((Path(settings.BASE_DIR) / "templates" / folder).glob("*.html"))
    return {msgid for template in templates for msgid in msgids_of(template)}


def untranslated(msgids) -> list[str]:
    """Those of ``msgids`` the compiled Spanish catalog has no translation for."""
    with SPANISH_CATALOG.open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)._catalog
    return sorted(str(m) for m in msgids if not catalog.get(m))
