"""The shipped open taxonomy and the mapping from SDOH categories to its terms."""

from __future__ import annotations

import json
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.utils import translation
from django.utils.connection import ConnectionProxy
from django.utils.translation import gettext_lazy as _

# This process's own memory (settings.CACHES, "local"): never Redis, read on every search page.
local_cache = ConnectionProxy(caches, "local")

DATA_DIR = Path(__file__).resolve().parent / "data"
VOCABULARY = "handoff"

# The names people see for SDOH categories (codes from the Gravity IG's temporary code system).
NEED_NAMES = {
    "food-insecurity": _("Food"),
    "housing-instability": _("Housing instability"),
    "homelessness": _("Homelessness"),
    "inadequate-housing": _("Unsafe or inadequate housing"),
    "transportation-insecurity": _("Transportation"),
    "financial-insecurity": _("Money"),
    "material-hardship": _("Material hardship"),
    "educational-attainment": _("Education"),
    "employment-status": _("Employment"),
    "veteran-status": _("Veterans"),
    "stress": _("Stress"),
    "social-connection": _("Social connection"),
    "intimate-partner-violence": _("Intimate partner violence"),
    "elder-abuse": _("Elder abuse"),
    "personal-health-literacy": _("Health literacy"),
    "health-insurance-coverage-status": _("Health insurance"),
    "medical-cost-burden": _("Medical costs"),
    "digital-literacy": _("Digital skills"),
    "digital-access": _("Internet and devices"),
    "utility-insecurity": _("Utilities"),
    "incarceration-status": _("Reentry after incarceration"),
    "language-access": _("Language access"),
    "protective-factor": _("Protective factors"),
    "sdoh-category-unspecified": _("Other social needs"),
}


# Words of a category's code that name no need by themselves ("veteran-status").
_CODE_FILLER = frozenset({"status", "sdoh", "category", "unspecified"})
# What common screening tools call a need where its name and code say otherwise (the AHC
# HRSN's and PRAPARE's domains: "Financial strain", "Social isolation", "Interpersonal
# safety", "Living situation"), so their results' words find its services too.
NEED_SYNONYMS = {
    "financial-insecurity": "financial strain",
    "social-connection": "social isolation loneliness",
    "intimate-partner-violence": "interpersonal safety domestic violence",
    "housing-instability": "living situation",
    "food-insecurity": "hunger",
}


# The words people search a need by in the portal's other languages. The directory is written
# in English (providers' names and descriptions, the taxonomy), so such a word is searched
# together with the English names of the needs it stands for: "comida" finds food pantries.
# Only words that are not also English words, so an English search never changes meaning.
NEED_WORDS_IN_LANGUAGE = {
    "es": {
        "food-insecurity": "alimentos alimentación comida comidas hambre despensa comedor",
        "housing-instability": "vivienda alquiler desalojo desahucio",
        "homelessness": "vivienda albergue refugio",
        "inadequate-housing": "vivienda moho plagas",
        "transportation-insecurity": "transporte",
        "financial-insecurity": "dinero deudas",
        "material-hardship": "ropa pañales muebles",
        "educational-attainment": "educación escuela",
        "employment-status": "empleo trabajo",
        "veteran-status": "veteranos",
        "stress": "estrés ansiedad",
        "social-connection": "soledad aislamiento",
        "intimate-partner-violence": "violencia maltrato",
        "elder-abuse": "maltrato ancianos",
        "health-insurance-coverage-status": "seguro",
        "medical-cost-burden": "facturas",
        "digital-literacy": "computadora computación",
        "digital-access": "computadora",
        "utility-insecurity": "luz electricidad calefacción agua",
        "incarceration-status": "cárcel prisión",
        "language-access": "intérprete traducción",
    },
}


# Everyday words for a kind of service that no translated term name uses: who gives it
# ("dentista", "abogado") or what it is for ("embarazo", "medicinas"). Each stands for the
# English name of the shipped term of that code, so it finds the services under that term.
TERM_WORDS_IN_LANGUAGE = {
    "es": {
        "health.dental-care": "dentista dientes muelas",
        "legal.legal-aid": "abogado abogada",
        "health.primary-care": "médico médicos médica doctora doctores",
        "care.child-care": "guardería niñera",
        "health.prescription-assistance": "medicinas medicamentos receta",
        "health.maternal-and-child-health.prenatal-care": "embarazo embarazada",
        "health.mental-health-care": "depresión psicólogo psicóloga terapia",
        "health.vision-care": "ojos oculista optometrista",
        "housing.help-pay-for-housing.rental-assistance": "renta",
        "food.food-benefits-enrollment.snap-enrollment": "estampillas",
        "legal.immigration-legal-help": "inmigrante",
    },
}


def fold(word: str) -> str:
    """A word without its accents, lower case: "Educación" and "educacion" are one word."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Words of a translated term name that say nothing by themselves ("Ayuda con el alquiler").
_SPANISH_FILLER = "a al con de del el en la las los o para por sin su sus u un una y"
_FILLER_IN_LANGUAGE = {"es": frozenset(_SPANISH_FILLER.split())}
# A word in more translated term names than this is too general to stand for them ("ayuda").
MOST_TERMS_PER_WORD = 6


@cache
def _english_for_other_words() -> dict[str, list[str]]:
    from directory.models import words_of

    def phrase(text: str) -> str:
        return " ".join(words_of(text)).lower()

    english: dict[str, list[str]] = {}

    def add(word: str, meant: list[str]) -> None:
        known = english.setdefault(fold(word), [])
        known.extend(m for m in meant if m not in known)

    with translation.override("en"):  # each need's name in every service's search document
        need_names = {code: phrase(str(label)) for code, label in NEED_NAMES.items()}
    shipped = _shipped_names()
    # The listed words: each stands for the English name of its need or shipped term.
    for table, english_name in (
        (NEED_WORDS_IN_LANGUAGE, need_names.__getitem__),
        (TERM_WORDS_IN_LANGUAGE, lambda code: phrase(shipped[code])),
    ):
        for by_code in table.values():
            for code, words in by_code.items():
                for word in words.split():
                    add(word, [english_name(code)])
    # The shipped terms' translated names: each of their words stands for the English names
    # of the terms it names (in every search document of a service under them).
    lexicon = _english_lexicon()
    for language, _name in settings.LANGUAGES:
        filler = _FILLER_IN_LANGUAGE.get(language, frozenset())
        by_word: dict[str, list[str]] = {}
        for code, name in translated_term_names(language).items():
            for word in words_of(name):
                if fold(word) not in filler and len(word) >= 3:
                    by_word.setdefault(fold(word), []).append(phrase(shipped[code]))
        for word, meant in by_word.items():
            if len(set(meant)) <= MOST_TERMS_PER_WORD and word not in lexicon:
                add(word, meant)
    return english


@cache
def _english_lexicon() -> frozenset[str]:
    # A translated word that is also a word of an English term name ("internet") is left as
    # it is: an English search never changes meaning.
    from directory.models import words_of

    return frozenset(fold(word) for name in _shipped_names().values() for word in words_of(name))


def english_words_for(word: str) -> list[str]:
    """What is searched for ``word`` of another language: the English names, as phrases, of
    the needs it names (NEED_WORDS_IN_LANGUAGE: "vivienda" → "housing instability",
    "homelessness", "unsafe or inadequate housing") and of the shipped terms it names
    (TERM_WORDS_IN_LANGUAGE: "dentista" → "dental care") or whose translated names use it
    ("despensa" → "food pantry", …); [] for any other word.

    The word as written, or else in the other number: "despensas", "refugios", "comedores"
    and "alimento" find what "despensa", "refugio", "comedor" and "alimentos" do.
    """
    known = _english_for_other_words()
    word = fold(word)
    if word in _english_lexicon():
        return []
    forms = [word, word + "s", word + "es"]
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s"):
        forms.append(word[:-1])
    return next((known[form] for form in forms if form in known), [])


@cache
def _need_search_words() -> dict[str, str]:
    """Each need's name here, then the words of its code and of its synonyms that it lacks."""
    words = {}
    with translation.override("en"):  # the directory's words are English, whoever builds them
        for code, label in NEED_NAMES.items():
            name = str(label)
            said = set(name.lower().split())
            more = []
            for word in [*code.split("-"), *NEED_SYNONYMS.get(code, "").split()]:
                if word not in _CODE_FILLER and word not in said:
                    said.add(word)
                    more.append(word)
            words[code] = " ".join([name, *more])
    return words


def need_search_names(codes: Iterable[str]) -> list[str]:
    """What a service meeting these needs is also found by, in code order: each need's name
    here ("Utilities") and the clinic's, the SDOH category's ("utility insecurity"), so the
    words of a screening result or an EHR's problem list find the services that meet it."""
    words = _need_search_words()
    return [words[code] for code in sorted(codes) if code in words]


@cache
def _shipped_names() -> dict[str, str]:
    return {spec["code"]: spec["name"] for spec in taxonomy_document()["terms"]}


@cache
def translated_term_names(language: str) -> dict[str, str]:
    """The shipped terms' names in ``language`` by code (data/taxonomy_<language>.json), or {}."""
    path = DATA_DIR / f"taxonomy_{language}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))["names"]


def term_name(vocabulary: str, code: str, name: str, language: str | None = None) -> str:
    """A term's name in the page's language: the translation of a shipped term whose name is
    still the shipped one; a name someone changed, or another vocabulary's, as it is."""
    language = language or translation.get_language() or "en"
    if vocabulary != VOCABULARY or language == "en" or _shipped_names().get(code) != name:
        return name
    return translated_term_names(language).get(code, name)


@cache
def taxonomy_document() -> dict:
    return json.loads((DATA_DIR / "taxonomy.json").read_text(encoding="utf-8"))


@cache
def sdoh_mapping() -> dict[str, list[str]]:
    """SDOH category code → taxonomy term codes that meet it (each covering its subtree)."""
    return json.loads((DATA_DIR / "sdoh_mapping.json").read_text(encoding="utf-8"))["mapping"]


def load_taxonomy(term_model=None) -> int:
    """Create or update the shipped terms (by code); safe to run again. Returns the count.

    Takes the model so a data migration can pass its historical model.
    """
    if term_model is None:
        from directory.models import TaxonomyTerm as term_model
    by_code: dict[str, object] = {}
    for spec in taxonomy_document()["terms"]:
        term, _created = term_model.objects.update_or_create(
            vocabulary=VOCABULARY,
            code=spec["code"],
            defaults={
                "hsds_id": uuid.UUID(spec["id"]),
                "name": spec["name"],
                "description": spec["description"],
                "parent": by_code.get(spec["parent_code"]) if spec["parent_code"] else None,
            },
        )
        by_code[spec["code"]] = term
    return len(by_code)


@dataclass
class TermTree:
    """Every term's code, name and parent, loaded in one query, for walking the tree in Python."""

    code_of: dict[int, str]
    parent_of: dict[int, int | None]
    id_of: dict[str, int]
    name_of: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> TermTree:
        from directory.models import TaxonomyTerm

        code_of, parent_of, id_of, name_of = {}, {}, {}, {}
        for pk, code, name, parent_id, vocabulary in TaxonomyTerm.objects.values_list(
            "pk", "code", "name", "parent_id", "vocabulary"
        ):
            code_of[pk] = code
            name_of[pk] = name
            parent_of[pk] = parent_id
            if vocabulary == VOCABULARY:
                id_of[code] = pk
        return cls(code_of, parent_of, id_of, name_of)

    def with_descendants(self, term_ids: Iterable[int]) -> set[int]:
        wanted = set(term_ids)
        children: dict[int, list[int]] = {}
        for pk, parent in self.parent_of.items():
            if parent is not None:
                children.setdefault(parent, []).append(pk)
        found, stack = set(), list(wanted)
        while stack:
            pk = stack.pop()
            if pk in found:
                continue
            found.add(pk)
            stack.extend(children.get(pk, ()))
        return found

    def ancestors_and_self(self, term_id: int) -> list[int]:
        chain, seen = [], set()
        current: int | None = term_id
        while current is not None and current not in seen:
            seen.add(current)
            chain.append(current)
            current = self.parent_of.get(current)
        return chain

    def indexed_names(self, term_ids: Iterable[int]) -> list[str]:
        """What a service under these terms is found by: each term's name, then its ancestors'.

        A client-choice pantry is food help too, so "food" must find it. Each term once, in
        the order given, so the same links always give the same words.
        """
        seen: set[int] = set()
        names = []
        for term_id in term_ids:
            for pk in self.ancestors_and_self(term_id):
                if pk not in seen and pk in self.name_of:
                    seen.add(pk)
                    names.append(self.name_of[pk])
        return names

    def terms_for_need(self, category_code: str) -> set[int]:
        """Ids of the terms that meet an SDOH category, descendants included."""
        roots = [self.id_of[c] for c in sdoh_mapping().get(category_code, []) if c in self.id_of]
        return self.with_descendants(roots)

    def needs_for_terms(self, term_ids: Iterable[int]) -> set[str]:
        """SDOH categories met by a service with these terms."""
        codes = {
            self.code_of[a]
            for t in term_ids
            for a in self.ancestors_and_self(t)
            if a in self.code_of
        }
        return {need for need, mapped in sdoh_mapping().items() if codes.intersection(mapped)}


def needs_for_terms(term_ids: Iterable[int], tree: TermTree | None = None) -> set[str]:
    return (tree or TermTree.load()).needs_for_terms(term_ids)


TERM_CHOICES_KEY = "directory:term-choices"
# Each process keeps the list this long at most; its own edits (the admin, an import) clear
# it at once (directory.apps), another process's show here within this time.
TERM_CHOICES_SECONDS = 60


def term_choices() -> list[tuple[str, str]]:
    """Top two levels of the shipped taxonomy, each child indented under its parent.

    In tree order (siblings by name): ordered by code, "care.adult-day-care" came after
    "care-coordination.*" and showed as if under Care Coordination. Kept in the cache: every
    search page shows the list, which changes only when someone edits the taxonomy, and
    reading it took ~1.5 ms of each page.
    """
    language = translation.get_language() or "en"
    key = f"{TERM_CHOICES_KEY}:{language}"
    rows = local_cache.get(key)
    if rows is None:
        from directory.models import TaxonomyTerm

        children: dict[int | None, list[tuple[str, str, int, str]]] = {}
        for pk, code, name, parent_id in TaxonomyTerm.objects.filter(
            vocabulary=VOCABULARY
        ).values_list("pk", "code", "name", "parent_id"):
            shown = term_name(VOCABULARY, code, name, language)
            children.setdefault(parent_id, []).append((fold(shown), code, pk, shown))
        rows = []
        for *_key, pk, name in sorted(children.get(None, [])):
            rows.append((str(pk), name))
            rows.extend(
                (str(child), "\u2003" + child_name)
                for *_key, child, child_name in sorted(children.get(pk, []))
            )
        local_cache.set(key, rows, TERM_CHOICES_SECONDS)
    return [("", _("Any type of service")), *rows]


def forget_term_choices(**_kwargs) -> None:
    keys = [f"{TERM_CHOICES_KEY}:{language}" for language, _name in settings.LANGUAGES]
    local_cache.delete_many(keys)
    # And once the edit commits: a page made before then may have kept the list as it was.
    transaction.on_commit(lambda: local_cache.delete_many(keys))


def need_choices() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in NEED_NAMES.items()]
