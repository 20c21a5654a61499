"""Directory search: by need or term, words, place, hours, language, age and capacity.

Correct on SQLite (the ORM over the normalized tables: words at the start of a word, services
named by them first) and fast on PostgreSQL: one statement over directory_servicesearch, a
narrow row per service kept by triggers (migration 0005), finds the page, the total and both
facet counts in a single pass (words through a GIN index, a bounding box on the GiST-indexed
coordinates before the exact distance, opening hours as one multirange test), and pg_trgm
corrects typos from the word lexicon.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import zipcodes
from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.db.models.functions import ASin, Cos, Least, Power, Radians, Sin, Sqrt
from django.utils import timezone

from directory.models import (
    SUPPORTED_TIMEZONES,
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    SearchWord,
    Service,
    ServiceAtLocation,
    ServiceNeed,
    words_of,
)
from directory.taxonomy import TermTree, english_words_for, local_cache

PAGE_SIZE = 20
# Held here: zoneinfo keeps only the 8 zones used last, and "open now" converts the time to
# all of these on every search, which otherwise re-read some from disk each time.
ZONES = {name: zoneinfo.ZoneInfo(name) for name in SUPPORTED_TIMEZONES}
EARTH_RADIUS_MILES = 3958.8
# The fewest miles a degree of latitude spans (at the equator); using it makes the box a
# little generous, never too small.
MILES_PER_DEGREE_LAT = 68.7
MILES_PER_DEGREE_LNG_AT_EQUATOR = 69.172


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float


def zip_point(zip_code: str) -> Point | None:
    """Centroid of a US ZIP code from the offline `zipcodes` data, or None if unknown."""
    return _zip_points().get(zip_code.strip()[:5]) if isinstance(zip_code, str) else None


@functools.cache
def _zip_points() -> dict[str, Point]:
    # The ZIP data ships with the package and never changes while the process runs. Read
    # once into a dict (~0.2 s, the first search near somewhere): zipcodes.matching scans all
    # 42,789 records on every call (~1.3 ms), and a process met each new ZIP at that cost.
    return {z["zip_code"]: Point(float(z["lat"]), float(z["long"])) for z in zipcodes.list_all()}


def haversine_miles(a: Point, b: Point) -> float:
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlng = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(origin: Point, radius_miles: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) containing every point within the radius."""
    dlat = radius_miles / MILES_PER_DEGREE_LAT
    widest = min(89.9, abs(origin.latitude) + dlat)
    dlng = min(
        180.0, radius_miles / (MILES_PER_DEGREE_LNG_AT_EQUATOR * math.cos(math.radians(widest)))
    )
    return (
        origin.latitude - dlat,
        origin.latitude + dlat,
        origin.longitude - dlng,
        origin.longitude + dlng,
    )


def distance_expression(origin: Point, prefix: str = ""):
    """Haversine distance in miles from origin to the row's latitude/longitude, in SQL."""
    lat = Radians(F(f"{prefix}latitude"))
    lng = Radians(F(f"{prefix}longitude"))
    lat0 = math.radians(origin.latitude)
    lng0 = math.radians(origin.longitude)
    h = Power(Sin((lat - Value(lat0)) / 2), 2) + Value(math.cos(lat0)) * Cos(lat) * Power(
        Sin((lng - Value(lng0)) / 2), 2
    )
    # least(): rounding can push sqrt(h) a hair past 1, which asin refuses.
    return Value(2 * EARTH_RADIUS_MILES) * ASin(
        Least(Sqrt(h), Value(1.0)), output_field=FloatField()
    )


def nearby_service_at_locations(origin: Point, radius_miles: float) -> QuerySet[ServiceAtLocation]:
    """Service-at-locations within the radius: box on the indexed coordinates, then exact."""
    min_lat, max_lat, min_lng, max_lng = bounding_box(origin, radius_miles)
    return (
        ServiceAtLocation.objects.filter(
            location__latitude__gte=min_lat,
            location__latitude__lte=max_lat,
            location__longitude__gte=min_lng,
            location__longitude__lte=max_lng,
        )
        .annotate(distance=distance_expression(origin, "location__"))
        .filter(distance__lte=radius_miles)
    )


# --- words ---


class SearchVectorColumn(Expression):
    """The service's words from its search row (PostgreSQL only; migration 0005 keeps them).

    The ORM path on PostgreSQL (a reference for the one-statement search, and what
    services_for_need-style callers could chain) reads it per row. Compiled next to the
    primary key so it follows whatever alias the query gives the table (facet subqueries
    rename it U0).
    """

    output_field = TextField()

    def resolve_expression(
        self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False
    ):
        clone = self.copy()
        clone.pk_col = F("pk").resolve_expression(query, allow_joins, reuse, summarize, for_save)
        return clone

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.pk_col)
        return (
            f"(SELECT x.vector FROM directory_servicesearch x WHERE x.service_id = {sql})",
            params,
        )


class ToTsQuery(Func):
    template = "to_tsquery('english'::regconfig, %(expressions)s)"
    output_field = TextField()


class TsRankCd(Func):
    function = "ts_rank_cd"
    output_field = FloatField()


class TsMatches(Func):
    template = "(%(expressions)s)"
    arg_joiner = " @@ "
    output_field = BooleanField()


_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)


# A word's spellings are kept this long (in each process, in local_cache). They only
# add spellings to look for: the word as typed is always searched too, so a lexicon changed
# since (a service edited, an import) cannot hide what the word itself matches; a new
# near-spelling of a mistyped word is suggested within this time.
SPELLINGS_SECONDS = 300


# A word being typed is searched as the directory's words that begin with it, when there are
# at most this many; with more (a letter or two typed), as its stem's prefix.
MOST_FORMS = 20


class Spellings(list):
    """A query word's spellings to search for, the word itself first.

    ``forms``: the directory's words that begin with the word as typed (PostgreSQL), or None
    when there are more than MOST_FORMS or none. The last word of a query may still be being
    typed; tsquery_text searches it as these words, so "rent" finds "rental" and "renting"
    but not "parenting", "housing" finds "housing" and "houses" but not "household", and "hous"
    finds all of them. Without forms it is searched as its stem's prefix ("housing" is
    stemmed to "hous", a prefix of "household" too).
    """

    forms: tuple[str, ...] | None = None

    @classmethod
    def of(cls, spellings: list[str], forms: list[str] | None = None) -> Spellings:
        found = cls(spellings)
        if forms and len(forms) <= MOST_FORMS:
            found.forms = tuple(forms)
        return found


def corrected_words(words: list[str]) -> dict[str, Spellings]:
    """Each query word with the lexicon words it may have meant (itself when known)."""
    if not words:
        return {}
    keys = {f"directory:spellings:{word}": word for word in dict.fromkeys(words)}
    result = {keys[key]: spellings for key, spellings in local_cache.get_many(keys).items()}
    missing = [word for word in keys.values() if word not in result]
    if missing:
        found = _spellings(missing)
        local_cache.set_many(
            {key: found[word] for key, word in keys.items() if word in found}, SPELLINGS_SECONDS
        )
        result.update(found)
    return result


def _spellings(words: list[str]) -> dict[str, Spellings]:
    """corrected_words() from the lexicon, for distinct words.

    A word of another language that names a need or a type of service is searched with their
    English names instead (taxonomy.english_words_for): the services are written in English,
    and that word's nearest English spellings ("comida": "comedy") would mislead.
    """
    result: dict[str, Spellings] = {}
    for word in words:
        if english := english_words_for(word):
            result[word] = Spellings.of([word, *english])
    result.update(_lexicon_spellings([word for word in words if word not in result]))
    return result


def _lexicon_spellings(words: list[str]) -> dict[str, Spellings]:
    """Each word with the lexicon's two nearest words when the lexicon lacks it, and (on
    PostgreSQL) the lexicon's words that begin with it."""
    result: dict[str, Spellings] = {}
    if not words:
        return result
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # One round trip for all words. Only a word the lexicon lacks looks for the two
            # nearest lexicon words: % uses the trigram GIN index, similarity orders them.
            # LIKE uses it too (a word is letters and digits: no % or _ in it).
            cursor.execute(
                "SELECT w.word, CASE WHEN NOT EXISTS"
                " (SELECT 1 FROM directory_searchword k WHERE k.word = w.word) THEN"
                " ARRAY(SELECT k.word FROM directory_searchword k WHERE k.word %% w.word"
                " ORDER BY similarity(k.word, w.word) DESC, k.word LIMIT 2) ELSE '{}' END,"
                " ARRAY(SELECT k.word FROM directory_searchword k WHERE k.word LIKE w.word || '%%'"
                f" ORDER BY k.word LIMIT {MOST_FORMS + 1})"
                " FROM unnest(%s::text[]) AS w(word)",
                [words],
            )
            for word, alternatives, forms in cursor.fetchall():
                result[word] = Spellings.of([word, *alternatives], forms)
    else:
        known = set(SearchWord.objects.filter(word__in=words).values_list("word", flat=True))
        lexicon = (
            list(SearchWord.objects.values_list("word", flat=True))
            if not known.issuperset(words)
            else []
        )
        for word in words:
            close = [] if word in known else difflib.get_close_matches(word, lexicon, 2, 0.75)
            result[word] = Spellings.of([word, *close])
    return result


def tsquery_text(words: list[str], variants: dict[str, list[str]]) -> str:
    """Every word (any of its spellings) must match; the last one, which may still be being
    typed, as any word of the directory that begins with it (Spellings.forms), else as its
    stem's prefix."""
    groups = []
    for i, word in enumerate(words):
        spellings = variants[word]  # the word itself first
        last = i == len(words) - 1
        own = (getattr(spellings, "forms", None) or [f"{word}:*"]) if last else [word]
        # A variant of several words (a need's name, from another language) is a phrase.
        others = [v.replace(" ", " <-> ") for v in spellings[1:]]
        groups.append("(" + " | ".join(dict.fromkeys([*own, *others])) + ")")
    return " & ".join(groups)


def _sqlite_stem(word: str) -> str:
    # Prefix matching stands in for stemming: "pantries" should find "pantry".
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _starts_a_word(column: str, stem: str) -> Q:
    """``column`` has a word starting with ``stem``, as PostgreSQL's prefix query matches.

    A word is a run of letters and digits (words_of()): "rent" finds "Rental", not
    "Parenting"; "wic" finds "WIC", not "Ipswich". The substring test goes first and is
    cheap (LIKE); the regular expression (Python's, called by SQLite) then checks only the
    rows it let through.
    """
    return Q(**{f"{column}__icontains": stem}) & Q(
        **{f"{column}__iregex": r"(?<![^\W_])" + re.escape(stem)}
    )


def _sqlite_words(words: list[str], variants: dict[str, list[str]]) -> tuple[list[Q], Expression]:
    """Per word, the condition that some spelling of it starts a word of the service's
    document, and a score: 3 for each word found in the service's name, 1 for the others."""
    conditions, score = [], Value(0)
    for word in words:
        matched = Q()
        in_name = Q()
        for variant in variants[word]:
            stem = _sqlite_stem(variant)
            matched |= _starts_a_word("search_document", stem)
            in_name |= _starts_a_word("name", stem)
        conditions.append(matched)
        score = score + Case(
            When(in_name, then=Value(3)), default=Value(1), output_field=IntegerField()
        )
    return conditions, score


def with_words(
    qs: QuerySet[Service], text: str, variants: dict[str, list[str]] | None = None
) -> QuerySet[Service]:
    """Services matching every word (or a close spelling of it), annotated with ``rank``.

    ``variants``: corrected_words() of the text's words, when the caller already has them.
    """
    words = words_of(text)[:8]
    if not words:
        return qs.annotate(rank=Value(0.0, output_field=FloatField()))
    if variants is None:
        variants = corrected_words(words)
    if connection.vendor == "postgresql":
        query = ToTsQuery(Value(tsquery_text(words, variants)))
        return qs.annotate(rank=TsRankCd(SearchVectorColumn(), query)).filter(
            TsMatches(SearchVectorColumn(), query)
        )
    conditions, score = _sqlite_words(words, variants)
    return qs.filter(*conditions).annotate(rank=score * Value(1.0, output_field=FloatField()))


def matching_words(qs: QuerySet[Service], text: str) -> QuerySet[Service]:
    """The services of ``qs`` that the directory's word search finds for ``text``, unranked.

    The same words, spellings and matching as with_words(); on PostgreSQL straight from the
    search rows' GIN index (for lists ordered otherwise, as the HSDS API's are).
    """
    words = words_of(text)[:8]
    if not words:
        return qs
    variants = corrected_words(words)
    if connection.vendor == "postgresql":
        return qs.filter(
            pk__in=RawSQL(
                "SELECT service_id FROM directory_servicesearch"
                " WHERE vector @@ to_tsquery('english'::regconfig, %s)",
                [tsquery_text(words, variants)],
            )
        )
    conditions, _score = _sqlite_words(words, variants)
    return qs.filter(*conditions)


# --- the search ----------------------------------------------------------------------------


@dataclass
class SearchParams:
    q: str = ""
    need: str = ""
    term: int | None = None
    origin: Point | None = None
    radius: float = 10.0
    sort: str = ""  # "distance" or "relevance"; empty: distance when near somewhere
    open_now: bool = False
    open_day: int | None = None
    language: str = ""
    age: int | None = None
    accepting: bool = False
    page: int = 1


@dataclass
class SearchResults:
    services: list[Service]
    total: int
    page: int
    num_pages: int
    need_facets: list[tuple[str, int]] = field(default_factory=list)
    language_facets: list[tuple[str, int]] = field(default_factory=list)
    sort: str = "relevance"
    # Each word searched with the spellings looked for (corrected_words()): the page says
    # when a word it did not know was searched as another.
    spellings: dict[str, list[str]] = field(default_factory=dict)


def filtered_services(
    params: SearchParams, now: datetime, *, skip: frozenset[str] = frozenset(), tree=None
) -> QuerySet[Service]:
    """Active services passing every filter except those named in ``skip`` (for facets)."""
    qs = Service.objects.active()
    if params.accepting:
        qs = qs.accepting_referrals()
    if params.need and "need" not in skip:
        qs = qs.meeting_need(params.need)
    if params.term is not None:
        qs = qs.under_terms((tree or TermTree.load()).with_descendants([params.term]))
    if params.language and "language" not in skip:
        qs = qs.speaking(params.language)
    if params.age is not None:
        qs = qs.for_age(params.age)
    if params.open_now:
        qs = qs.open_at(now)
    elif params.open_day is not None:
        qs = qs.open_on(params.open_day)
    if params.origin is not None:
        qs = qs.filter(
            Exists(
                nearby_service_at_locations(params.origin, params.radius).filter(
                    service=OuterRef("pk")
                )
            )
        )
    return qs


def search_services(params: SearchParams, *, now: datetime | None = None) -> SearchResults:
    """One page of services for the search page, with counts for the need and language facets."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        return search_services_postgresql(params, now)
    return search_services_orm(params, now)


def _sort_for(params: SearchParams) -> str:
    sort = params.sort or ("distance" if params.origin else "relevance")
    return "relevance" if sort == "distance" and params.origin is None else sort


def search_services_orm(params: SearchParams, now: datetime) -> SearchResults:
    """The search through the ORM on the normalized tables (SQLite; any database)."""
    tree = TermTree.load() if params.term is not None else None
    qs = filtered_services(params, now, tree=tree)
    # The spellings are looked up once, for the page and both facet counts.
    variants = corrected_words(words_of(params.q)[:8]) if params.q else None
    if params.q:
        qs = with_words(qs, params.q, variants)
    sort = _sort_for(params)
    qs = _with_distance(qs, params)
    if sort == "distance":
        ordering = ["distance", "name", "pk"]
    elif params.q:
        ordering = ["-rank", *(["distance"] if params.origin else []), "name", "pk"]
    else:
        ordering = ["name", "pk"]
    total = qs.count()
    num_pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, params.page), num_pages)
    start = (page - 1) * PAGE_SIZE
    services = list(_with_result_data(qs.order_by(*ordering)[start : start + PAGE_SIZE]))
    annotate_for_display(services, now)
    for service in services:
        _set_contacts(service, list(service.phones.all()), list(service.languages.all()))
        _set_place(
            service, [sal.location for sal in service.service_at_locations.all()], params.origin
        )
    return SearchResults(
        services=services,
        total=total,
        page=page,
        num_pages=num_pages,
        need_facets=_need_facets(params, now, tree, variants),
        language_facets=_language_facets(params, now, tree, variants),
        spellings=variants or {},
        sort=sort,
    )


def _with_distance(qs: QuerySet[Service], params: SearchParams) -> QuerySet[Service]:
    if params.origin is None:
        return qs.annotate(distance=Value(None, output_field=FloatField()))
    nearest = (
        nearby_service_at_locations(params.origin, params.radius)
        .filter(service=OuterRef("pk"))
        .order_by("distance")
        .values("distance")[:1]
    )
    return qs.annotate(distance=Subquery(nearest, output_field=FloatField()))


def _facet_base(
    params: SearchParams, now: datetime, tree, skip: str, variants
) -> QuerySet[Service]:
    qs = filtered_services(params, now, skip=frozenset({skip}), tree=tree)
    if params.q:
        qs = with_words(qs, params.q, variants)
    return qs.order_by().values("pk")


def _need_facets(params: SearchParams, now: datetime, tree, variants) -> list[tuple[str, int]]:
    rows = (
        ServiceNeed.objects.filter(service__in=_facet_base(params, now, tree, "need", variants))
        .values("category")
        .annotate(n=Count("service_id"))
        .order_by("-n", "category")
    )
    return [(row["category"], row["n"]) for row in rows]


def _language_facets(params: SearchParams, now: datetime, tree, variants) -> list[tuple[str, int]]:
    rows = (
        Language.objects.filter(service__in=_facet_base(params, now, tree, "language", variants))
        .values("code")
        .annotate(n=Count("service_id", distinct=True))
        .order_by("-n", "code")
    )
    return [(row["code"], row["n"]) for row in rows]


def _with_result_data(qs: QuerySet[Service]) -> QuerySet[Service]:
    """What a row of the search results shows (directory.views._result_cards)."""
    return qs.select_related("organization").prefetch_related(
        "phones",
        "languages",
        "schedules",
        Prefetch(
            "service_at_locations",
            queryset=ServiceAtLocation.objects.select_related("location").order_by("pk"),
        ),
    )


def with_display_data(qs: QuerySet[Service], now: datetime) -> QuerySet[Service]:
    """What a result row shows: organization, phones, languages, hours, locations."""
    return qs.select_related("organization").prefetch_related(
        "phones", "languages", "schedules", "service_at_locations__location"
    )


def annotate_for_display(services: list[Service], now: datetime) -> None:
    """Set is_open_now and todays_hours on prefetched services (in each schedule's zone)."""
    for service in services:
        _set_hours(service, list(service.schedules.all()), now)


def _set_hours(service: Service, schedules: list[Schedule], now: datetime) -> None:
    service.is_open_now = any(s.is_open_at(now) for s in schedules)
    service.todays_hours = [
        s for s in schedules if s.runs_on(now.astimezone(zoneinfo.ZoneInfo(s.timezone)).weekday())
    ]
    service.has_hours = bool(schedules)


def _set_contacts(service: Service, phones: list[Phone], languages: list[Language]) -> None:
    """What a result row shows besides hours: the first phone and the languages by name."""
    service.first_phone = min(phones, key=lambda phone: phone.pk, default=None)
    service.spoken_languages = languages


def _set_place(service: Service, locations: list[Location], origin: Point | None) -> None:
    """The place a result names, and how many the service has (in the order listed).

    Places a person can go to: not a postal (mailing) or virtual location. Near somewhere,
    the one nearest it: the distance the result shows is to that one. With several places,
    "2 miles away" alone would leave a person to guess which is meant.
    """
    locations = [loc for loc in locations if loc.location_type == Location.Type.PHYSICAL]
    service.location_count = len(locations)
    located = [loc for loc in locations if loc.latitude is not None and loc.longitude is not None]
    if origin is not None and located:
        service.place = min(
            located, key=lambda loc: haversine_miles(origin, Point(loc.latitude, loc.longitude))
        )
    else:
        service.place = locations[0] if locations else None


# --- PostgreSQL: one statement over directory_servicesearch --------------------------------


# The tables a search row is made from, and how many services a deferred refresh must cover
# before it first brings their planner statistics up to date.
SEARCH_ROW_SOURCES = (
    "directory_service",
    "directory_serviceneed",
    "directory_language",
    "directory_servicetaxonomy",
    "directory_serviceatlocation",
    "directory_location",
    "directory_schedule",
)
ANALYZE_BEFORE_REFRESH = 1000


@contextmanager
def deferred_search_rows() -> Iterator[None]:
    """Bulk writes inside refresh the search rows once, at the end (PostgreSQL; migration 0008).

    Otherwise the rows follow every statement, and a bulk load that writes services, then
    their needs, languages, places and hours rewrites each row that many times, leaving the
    table several times its size (and searches that much slower). Everything inside runs in
    one transaction, and the rows are current before it commits. For imports and generated
    directories; interactive edits need nothing.
    """
    if connection.vendor != "postgresql" or getattr(connection, "_search_rows_deferred", False):
        yield  # not PostgreSQL, or inside another deferred block, which refreshes at its end
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS directory_servicesearch_pending"
            " (service_id bigint PRIMARY KEY) ON COMMIT DELETE ROWS"
        )
        # Local to the transaction: an error inside rolls it back along with the noted ids.
        cursor.execute("SELECT set_config('handoff.search_rows_deferred', 'on', true)")
        connection._search_rows_deferred = True
        try:
            yield
        finally:
            connection._search_rows_deferred = False
        cursor.execute("SELECT set_config('handoff.search_rows_deferred', 'off', true)")
        cursor.execute("SELECT count(*) FROM directory_servicesearch_pending")
        if cursor.fetchone()[0] >= ANALYZE_BEFORE_REFRESH:
            # A bulk load leaves the planner with no statistics for what it wrote (autovacuum
            # cannot see an open transaction); without them it planned a scan of every
            # location for each service (at 100,000 services: ~25 minutes, not seconds).
            # ANALYZE inside the transaction counts this transaction's own new rows.
            cursor.execute(f"ANALYZE {', '.join(SEARCH_ROW_SOURCES)}")
        cursor.execute(
            "SELECT directory_servicesearch_refresh(ARRAY("
            "SELECT service_id FROM directory_servicesearch_pending))"
        )
        cursor.execute("DELETE FROM directory_servicesearch_pending")


@dataclass(frozen=True)
class Reordered:
    rows: int
    pages_before: int
    pages_after: int


def reorder_search_rows() -> Reordered | None:
    """Write every search row again, in taxonomy-branch order (PostgreSQL; None elsewhere).

    A bulk write puts a branch's rows together (migration 0013); a row refreshed alone, by an
    edit, goes wherever there is room. On a copy of the 100,000-service benchmark directory,
    60,000 single edits left the table 11% larger and its statement's p95 5–7% slower
    (benchmarks/NOTES.md). This empties the table and refreshes every service in one
    transaction, then updates the planner's statistics. Searches and edits wait for it (~10 s
    at 100,000 services on the 2-core machine); at READ COMMITTED, as the portal runs, they
    then read the new rows. A transaction at REPEATABLE READ that had already read the table
    would find it empty, as with any TRUNCATE.
    """
    if connection.vendor != "postgresql":
        return None
    size = "SELECT pg_relation_size('directory_servicesearch') / current_setting('block_size')::int"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(size)
        (pages_before,) = cursor.fetchone()
        cursor.execute("TRUNCATE directory_servicesearch")
        cursor.execute(
            "SELECT directory_servicesearch_refresh(ARRAY(SELECT id FROM directory_service))"
        )
        cursor.execute("ANALYZE directory_servicesearch")
        cursor.execute(f"SELECT count(*), ({size}) FROM directory_servicesearch")
        rows, pages_after = cursor.fetchone()
    return Reordered(rows=rows, pages_before=pages_before, pages_after=pages_after)


SECONDS_PER_DAY = 86_400


def _sql_float(value: float) -> str:
    # Floats computed here (never text from the request) go in as literals, so the distance
    # expression, repeated per location, needs no parameters.
    return f"({float(value)!r}::float8)"


def _unit_vector(point: Point) -> tuple[float, float, float]:
    lat, lng = math.radians(point.latitude), math.radians(point.longitude)
    return (math.cos(lat) * math.cos(lng), math.cos(lat) * math.sin(lng), math.sin(lat))


def _closeness_sql(origin: Point) -> str:
    """cos of the angle from the origin to the row's nearest location (1 = here).

    The search rows keep each location as a unit vector, so this is a dot product, not a
    haversine per row; up to four locations inline, more through a function (migration 0005).
    """
    x0, y0, z0 = (_sql_float(c) for c in _unit_vector(origin))

    def dot(x: str, y: str, z: str) -> str:
        return f"{x} * {x0} + {y} * {y0} + {z} * {z0}"

    more = [
        dot(f"s.more_xyz[{i}]", f"s.more_xyz[{i + 1}]", f"s.more_xyz[{i + 2}]") for i in (1, 4, 7)
    ]
    return (
        f"CASE WHEN s.more_xyz IS NULL THEN {dot('s.x', 's.y', 's.z')}"
        f" WHEN cardinality(s.more_xyz) <= 9 THEN greatest({dot('s.x', 's.y', 's.z')}, {', '.join(more)})"
        f" ELSE greatest({dot('s.x', 's.y', 's.z')},"
        f" directory_servicesearch_closeness(s.more_xyz, {x0}, {y0}, {z0})) END"
    )


def _miles_sql(closeness: str) -> str:
    # The great-circle distance from the cosine of its angle; acos is exact enough here (to
    # millimetres at these distances) and runs for a page of rows only.
    return f"({_sql_float(EARTH_RADIUS_MILES)} * acos(least({closeness}, 1.0::float8)))"


# Where the box around the origin holds at most this many located locations, the search
# starts from them (the index on directory_location latitude, longitude); where it holds
# more (a city, a wide radius) checking each candidate's own coordinates costs less.
FEW_LOCATIONS = 1000


BOX_PROBE_SQL = (
    "WITH l AS (SELECT id FROM directory_location"
    " WHERE latitude BETWEEN %(min_lat)s AND %(max_lat)s"
    " AND longitude BETWEEN %(min_lng)s AND %(max_lng)s LIMIT %(limit)s)"
    " SELECT CASE WHEN (SELECT count(*) FROM l) < %(limit)s THEN ARRAY("
    "SELECT DISTINCT sal.service_id FROM l"
    " JOIN directory_serviceatlocation sal ON sal.location_id = l.id) END"
)


def box_probe_args(box: tuple[float, float, float, float]) -> dict:
    min_lat, max_lat, min_lng, max_lng = box
    return {
        "min_lat": min_lat,
        "max_lat": max_lat,
        "min_lng": min_lng,
        "max_lng": max_lng,
        "limit": FEW_LOCATIONS + 1,
    }


# A box found to hold many locations is remembered this long (in each process, in
# local_cache). Forgetting sooner is never needed for correct results: without the ids the search
# checks every candidate's own coordinates, which is exact whatever the box holds now.
DENSE_BOX_SECONDS = 3600


def services_in_box(box: tuple[float, float, float, float]) -> list[int] | None:
    """Ids of services with a location in the box, or None when the box holds many."""
    key = "directory:dense-box:" + ",".join(f"{edge:.6f}" for edge in box)
    if local_cache.get(key):
        return None
    with connection.cursor() as cursor:
        cursor.execute(BOX_PROBE_SQL, box_probe_args(box))
        ids = cursor.fetchone()[0]
    if ids is None:
        local_cache.set(key, True, DENSE_BOX_SECONDS)
    return ids


def _open_now_sql(now: datetime, args: dict) -> str:
    """Open at ``now``: the hours multirange contains the row's local time of the week.

    Rows flagged hours_complex (schedules in several time zones or with validity dates) are
    few: their schedules are checked once per statement (an InitPlan), with the conditions
    of ScheduleQuerySet.open_at, instead of once per candidate.
    """
    whens, zones = [], []
    for i, tzname in enumerate(SUPPORTED_TIMEZONES):
        local = now.astimezone(ZONES[tzname])
        t = local.time().replace(tzinfo=None)
        # Whole seconds, like the hours column (a second's fraction cannot open a service).
        of_week = local.weekday() * SECONDS_PER_DAY + (t.hour * 60 + t.minute) * 60 + t.second
        args[f"tz{i}"], args[f"week{i}"], args[f"time{i}"] = tzname, of_week, t
        args[f"today{i}"] = 1 << local.weekday()
        args[f"yesterday{i}"] = 1 << ((local.weekday() - 1) % 7)
        whens.append(f"WHEN %(tz{i})s THEN %(week{i})s::int")
        zones.append(
            f"(%(tz{i})s::text, %(time{i})s::time, %(today{i})s::int, %(yesterday{i})s::int)"
        )
    args["today_date"] = now.date()
    complex_open = (
        "ARRAY(SELECT sc.service_id FROM directory_servicesearch c"
        " JOIN directory_schedule sc ON sc.service_id = c.service_id"
        f" JOIN (VALUES {', '.join(zones)}) AS z(tz, t, today, yesterday) ON z.tz = sc.timezone"
        " WHERE c.hours_complex"
        " AND (sc.valid_from IS NULL OR sc.valid_from <= %(today_date)s)"
        " AND (sc.valid_to IS NULL OR sc.valid_to >= %(today_date)s)"
        " AND (((sc.days_mask & z.today) <> 0 AND sc.opens_at <= z.t"
        " AND (sc.closes_at > z.t OR sc.closes_at <= sc.opens_at))"
        " OR ((sc.days_mask & z.yesterday) <> 0 AND sc.closes_at <= sc.opens_at AND sc.closes_at > z.t)))"
    )
    simple_open = f"coalesce(s.hours @> (CASE s.hours_timezone {' '.join(whens)} END), false)"
    return f"(CASE WHEN s.hours_complex THEN s.service_id = ANY ({complex_open}) ELSE {simple_open} END)"


def search_statement(
    params: SearchParams,
    now: datetime,
    *,
    tsquery: str | None,
    nearby: list[int] | None = None,
    offset: int = 0,
    tree=None,
) -> tuple[str, dict]:
    """The one statement behind a search page on PostgreSQL, and its parameters.

    ``base`` is every search row passing all filters but the need and the language, with
    whether it passes those two; the page, the total and the facet counts (each facet
    ignoring its own filter, so people can switch) all come from it. Output rows are
    (kind, service_id, code, n, distance, rank, display); page rows carry their position in n
    and what the result shows (RESULT_ROW_JSON), so the page needs no further queries.
    ``nearby`` (from services_in_box) narrows a search near somewhere to those services.
    """
    args: dict = {"offset": offset}
    where = ["s.active"]
    if params.accepting:
        where.append("s.accepting")
    if params.term is not None:
        args["terms"] = sorted((tree or TermTree.load()).with_descendants([params.term]))
        where.append("s.terms && %(terms)s::bigint[]")
    if params.age is not None:
        args["age"] = params.age
        where.append("(s.minimum_age IS NULL OR s.minimum_age <= %(age)s)")
        where.append("(s.maximum_age IS NULL OR s.maximum_age >= %(age)s)")
    if params.open_now:
        where.append(_open_now_sql(now, args))
    elif params.open_day is not None:
        args["day_bit"] = 1 << params.open_day
        where.append("(s.days & %(day_bit)s) <> 0")
    if tsquery is not None:
        args["tsquery"] = tsquery
        where.append("s.vector @@ to_tsquery('english'::regconfig, %(tsquery)s)")
    closeness, within, distance = "NULL::float8", "true", "NULL::float8"
    if params.origin is not None:
        closeness = _closeness_sql(params.origin)
        within = f"closeness >= {_sql_float(math.cos(params.radius / EARTH_RADIUS_MILES))}"
        distance = _miles_sql("closeness")
        if nearby is not None:
            args["nearby"] = nearby
            where.append("s.service_id = ANY (%(nearby)s::bigint[])")
    need_ok, language_ok = "true", "true"
    if params.need:
        args["need"] = params.need
        # The need's bit (migration 0009); the planner computes it once, from the constant.
        need_ok = "(s.needs_mask & directory_need_mask(ARRAY[%(need)s]::text[])) <> 0"
    if params.language:
        args["language"] = params.language
        language_ok = "s.languages @> ARRAY[%(language)s]::varchar[]"
    sort = _sort_for(params)
    rank = "NULL::float8"
    if sort == "distance":
        order = "closeness DESC, name, service_id"
    elif tsquery is not None:
        # Ranked only where it orders the page: rows passing the need and language too.
        rank = (
            f"CASE WHEN {need_ok} AND {language_ok} THEN"
            " ts_rank_cd(s.vector, to_tsquery('english'::regconfig, %(tsquery)s))::float8 END"
        )
        order = "rank DESC, closeness DESC, name, service_id"
    else:
        order = "name, service_id"
    where_sql = " AND ".join(where)
    if tsquery is not None or nearby is not None:
        # Few candidates (words, or a box with few locations): scan them once and keep them.
        # OFFSET 0 keeps the inner query whole, so closeness is computed once per row; each
        # column is kept only where a later part reads it.
        base = f"""MATERIALIZED (
    SELECT service_id, need_ok, language_ok, closeness,
           CASE WHEN language_ok THEN needs_mask END AS needs_mask,
           CASE WHEN need_ok THEN languages END AS languages,
           CASE WHEN need_ok AND language_ok THEN name END AS name, rank
      FROM (SELECT s.service_id, {need_ok} AS need_ok, {language_ok} AS language_ok,
                   {closeness} AS closeness, s.needs_mask, s.languages, s.name, {rank} AS rank
              FROM directory_servicesearch s
             WHERE {where_sql}
            OFFSET 0) AS candidate
     WHERE {within})"""
    else:
        # Possibly most of the directory: keeping it would spill to disk. The page and the
        # counts each scan instead; the page by the name index when it is sorted by name.
        base = f"""NOT MATERIALIZED (
    SELECT s.service_id, {need_ok} AS need_ok, {language_ok} AS language_ok,
           {closeness} AS closeness, s.needs_mask, s.languages, s.name, {rank} AS rank
      FROM directory_servicesearch s
     WHERE {where_sql} AND {within.replace("closeness", closeness)})"""
    # counts: one pass, three groupings (GROUPING() tells them apart): by the needs' bits for
    # the need facet, by languages for the language facet, and all for the total.
    sql = f"""WITH base AS {base},
counts AS (
    SELECT GROUPING(needs_mask, languages) AS level, needs_mask, languages,
           count(*) FILTER (WHERE language_ok) AS for_needs,
           count(*) FILTER (WHERE need_ok) AS for_languages,
           count(*) FILTER (WHERE need_ok AND language_ok) AS hits
      FROM base
     GROUP BY GROUPING SETS ((needs_mask), (languages), ())
)
SELECT 'page' AS kind, p.service_id, NULL::text AS code, row_number() OVER () AS n,
       {distance.replace("closeness", "p.closeness")}, p.rank, {RESULT_ROW_JSON} AS display
  FROM (SELECT service_id, closeness, rank FROM base WHERE need_ok AND language_ok
         ORDER BY {order} LIMIT {PAGE_SIZE} OFFSET %(offset)s) AS p
UNION ALL
SELECT 'total', NULL, NULL, hits, NULL, NULL, NULL FROM counts WHERE level = 3
UNION ALL
SELECT 'need', NULL, need.code, sum(for_needs)::bigint, NULL, NULL, NULL
  FROM counts CROSS JOIN unnest(directory_need_codes()) WITH ORDINALITY AS need(code, bit)
 WHERE level = 1 AND for_needs > 0 AND (needs_mask & (1::bigint << (need.bit - 1)::int)) <> 0
 GROUP BY need.code
UNION ALL
SELECT 'language', NULL, code, sum(for_languages)::bigint, NULL, NULL, NULL
  FROM counts CROSS JOIN LATERAL unnest(languages) AS code
 WHERE level = 2 AND for_languages > 0
 GROUP BY code"""
    return sql, args


# What a result card shows (directory.views._result_cards), for the page's rows only: the
# first phone, the languages, the opening hours and the locations.
RESULT_ROW_JSON = """(SELECT json_build_object(
    'service', json_build_object(
        'id', sv.id, 'hsds_id', sv.hsds_id, 'name', sv.name, 'status', sv.status,
        'capacity', sv.capacity, 'accepts_referrals', sv.accepts_referrals,
        'organization_id', sv.organization_id),
    'organization', json_build_object('id', o.id, 'name', o.name),
    'phones', ARRAY(SELECT json_build_object(
        'id', ph.id, 'service_id', ph.service_id, 'number', ph.number, 'extension', ph.extension)
        FROM directory_phone ph WHERE ph.service_id = sv.id ORDER BY ph.id LIMIT 1),
    'languages', ARRAY(SELECT json_build_object(
        'id', lg.id, 'service_id', lg.service_id, 'code', lg.code, 'name', lg.name)
        FROM directory_language lg WHERE lg.service_id = sv.id ORDER BY lg.name, lg.id),
    'schedules', ARRAY(SELECT json_build_object(
        'id', sc.id, 'service_id', sc.service_id, 'byday', sc.byday, 'days_mask', sc.days_mask,
        'opens_at', sc.opens_at, 'closes_at', sc.closes_at, 'timezone', sc.timezone,
        'valid_from', sc.valid_from, 'valid_to', sc.valid_to)
        FROM directory_schedule sc WHERE sc.service_id = sv.id
        ORDER BY sc.days_mask, sc.opens_at, sc.id),
    'locations', ARRAY(SELECT json_build_object(
        'id', l.id, 'location_type', l.location_type, 'name', l.name,
        'address_1', l.address_1, 'address_2', l.address_2,
        'city', l.city, 'state_province', l.state_province, 'postal_code', l.postal_code,
        'latitude', l.latitude, 'longitude', l.longitude)
        FROM directory_serviceatlocation sal JOIN directory_location l ON l.id = sal.location_id
        WHERE sal.service_id = sv.id ORDER BY sal.id))
    FROM directory_service sv JOIN directory_organization o ON o.id = sv.organization_id
   WHERE sv.id = p.service_id)"""


def _from_json(model, data: dict, alias: str):
    """An instance of ``model`` from some of its columns as JSON; the others stay deferred.

    What Model.from_db makes, as loading a queryset's row with .only() would, without
    running Model.__init__ (no init signals are connected to these models): ~150 instances a
    page, and __init__'s walk over every field, deferred or not, was most of their cost. A
    column left out is deferred the usual way (it is missing from the instance's __dict__).
    """
    instance = model.__new__(model)
    values = instance.__dict__
    values.update(data)
    for attname, convert in _json_conversions(model, tuple(data)):
        values[attname] = convert(values[attname])
    state = instance._state = ModelState()
    state.adding, state.db = False, alias
    return instance


# Columns whose JSON value is already the Python value (a number, text, true/false or null):
# their to_python would hand it back unchanged. The rest (UUIDs, times, dates, floats that JSON
# wrote without a fraction) are converted.
_AS_JSON_GIVES = frozenset(
    [
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "CharField",
        "TextField",
        "BooleanField",
    ]
)


@functools.cache
def _json_conversions(model, keys: tuple[str, ...]) -> list[tuple[str, Callable]]:
    # The object's keys are the model's column names (RESULT_ROW_JSON), the same few shapes
    # every time; which need converting is worked out once per shape.
    fields = {f.attname: f for f in model._meta.concrete_fields}
    unknown = set(keys) - set(fields)
    if unknown:
        raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
    conversions = []
    for attname in keys:
        field = fields[attname]
        kind = (field.target_field if field.is_relation else field).get_internal_type()
        if kind not in _AS_JSON_GIVES:
            conversions.append((attname, field.to_python))
    return conversions


def _result_from_json(display: dict, now: datetime, alias: str, origin: Point | None) -> Service:
    service = _from_json(Service, display["service"], alias)
    service.organization = _from_json(Organization, display["organization"], alias)
    _set_hours(service, [_from_json(Schedule, row, alias) for row in display["schedules"]], now)
    _set_contacts(
        service,
        [_from_json(Phone, row, alias) for row in display["phones"]],
        [_from_json(Language, row, alias) for row in display["languages"]],
    )
    _set_place(service, [_from_json(Location, row, alias) for row in display["locations"]], origin)
    return service


def search_services_postgresql(params: SearchParams, now: datetime) -> SearchResults:
    """The search on PostgreSQL: the words, one statement, then the page's display data."""
    tree = TermTree.load() if params.term is not None else None
    words = words_of(params.q)[:8]
    spellings = corrected_words(words) if words else {}
    tsquery = tsquery_text(words, spellings) if words else None
    nearby = None
    if params.origin is not None:
        nearby = services_in_box(bounding_box(params.origin, params.radius))
    statement = functools.partial(
        _run_search_statement, params, now, tsquery=tsquery, nearby=nearby, tree=tree
    )
    page = max(1, params.page)
    rows = statement(page=page)
    total = next(row[3] for row in rows if row[0] == "total")
    num_pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > num_pages:  # a stale link past the end shows the last page, as the ORM path does
        page = num_pages
        rows = statement(page=page)
    services = []
    alias = connection.alias
    for row in sorted((row for row in rows if row[0] == "page"), key=lambda row: row[3]):
        _kind, _service_id, _code, _n, distance, rank, display = row
        if display is not None:  # None: deleted since the statement ran
            service = _result_from_json(display, now, alias, params.origin)
            service.distance, service.rank = distance, rank
            services.append(service)
    facets: dict[str, list[tuple[str, int]]] = {"need": [], "language": []}
    for kind, _service_id, code, n, *_ in rows:
        if kind in facets:
            facets[kind].append((code, int(n)))
    return SearchResults(
        services=services,
        total=total,
        page=page,
        num_pages=num_pages,
        need_facets=sorted(facets["need"], key=lambda item: (-item[1], item[0])),
        language_facets=sorted(facets["language"], key=lambda item: (-item[1], item[0])),
        sort=_sort_for(params),
        spellings=spellings,
    )


def _run_search_statement(
    params: SearchParams, now: datetime, *, tsquery, nearby, page: int, tree
) -> list[tuple]:
    sql, args = search_statement(
        params, now, tsquery=tsquery, nearby=nearby, offset=(page - 1) * PAGE_SIZE, tree=tree
    )
    return _fetch_quickly(sql, args)


def statement_settings_sql() -> str:
    """The settings this module's statements run with (SET LOCAL: until their transaction ends).

    They take tens of milliseconds. Were their estimated cost to pass jit_above_cost, JIT
    compilation alone would add ~80 ms. One parallel worker at most (settings
    SEARCH_PARALLEL_WORKERS), and a tuple handed from it costed at half PostgreSQL's default:
    the planner then takes one only for a statement reading many rows (at 100,000 services,
    a common word's ~22,500; never at 10,000), where on this 2-core machine it cut that
    statement by ~10%, and not for the rest, whose p50 did not move (benchmarks/search.py). A
    worker only helps while a core is idle; on a server kept busy set it to 0.
    """
    return (
        "SELECT set_config('jit', 'off', true),"
        f" set_config('max_parallel_workers_per_gather', '{settings.SEARCH_PARALLEL_WORKERS:d}', true),"
        " set_config('parallel_tuple_cost', '0.05', true)"
    )


def _fetch_quickly(sql: str, args: dict) -> list[tuple]:
    """Run one of this module's statements in a transaction of its own settings.

    Inside a caller's transaction the settings last until it ends (no savepoint needed).
    """
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(statement_settings_sql())
        cursor.execute(sql, args)
        return cursor.fetchall()


# Suggestions for a need rank services within this many miles before those farther away.
NEARBY_MILES = 10.0


def services_for_need(
    category_code: str,
    *,
    zip_code: str | None = None,
    language: str | None = None,
    radius_miles: float = 25.0,
    limit: int = 5,
    now: datetime | None = None,
) -> list[Service]:
    """Best services for an SDOH need (a code from the Gravity SDOH category code system).

    Active services whose taxonomy terms meet the need, nearest first within
    ``radius_miles`` of ``zip_code`` when given. Those accepting referrals come first, then
    (near a ZIP code) those within NEARBY_MILES, then those open now, then those speaking
    ``language`` (a preference, not a filter), then the nearest. Each
    service carries ``distance`` (miles or None), ``is_open_now`` and ``todays_hours``.
    """
    now = now or timezone.now()
    params = SearchParams(
        need=category_code, origin=zip_point(zip_code) if zip_code else None, radius=radius_miles
    )
    if connection.vendor == "postgresql":
        services = services_for_need_postgresql(params, language, limit, now)
    else:
        services = services_for_need_orm(params, language, limit, now)
    annotate_for_display(services, now)
    return services


def services_for_need_orm(
    params: SearchParams, language: str | None, limit: int, now: datetime
) -> list[Service]:
    qs = _with_distance(filtered_services(params, now), params)
    accepting = Q(accepts_referrals=True) & ~Q(capacity=Service.Capacity.NOT_ACCEPTING)
    qs = qs.annotate(
        accepting=Case(
            When(accepting, then=Value(1)), default=Value(0), output_field=IntegerField()
        ),
        open_now=Exists(Schedule.objects.filter(service=OuterRef("pk")).open_at(now)),
        speaks=Exists(Language.objects.filter(service=OuterRef("pk"), code=language or "")),
    )
    ordering = ["-accepting", "-open_now", "-speaks"]
    if params.origin is not None:
        # Open now and speaking the language count among services nearby, not across the
        # metro: one 25 miles away should not come before one a mile away for being open.
        qs = qs.annotate(
            farther=Case(
                When(distance__gt=NEARBY_MILES, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        ordering = ["-accepting", "farther", "-open_now", "-speaks", "distance"]
    return list(with_display_data(qs.order_by(*ordering, "name", "pk")[:limit], now))


def services_for_need_postgresql(
    params: SearchParams, language: str | None, limit: int, now: datetime
) -> list[Service]:
    """services_for_need's choice from the search rows, then the few services' display data."""
    args: dict = {"need": params.need, "language": language or "", "limit": limit}
    where = ["s.active", "s.needs @> ARRAY[%(need)s]::varchar[]"]
    closeness, within, distance, nearest, farther = "NULL::float8", "true", "NULL::float8", "", ""
    if params.origin is not None:
        closeness = _closeness_sql(params.origin)
        within = f"closeness >= {_sql_float(math.cos(params.radius / EARTH_RADIUS_MILES))}"
        distance, nearest = _miles_sql("closeness"), "closeness DESC,"
        farther = f"closeness < {_sql_float(math.cos(NEARBY_MILES / EARTH_RADIUS_MILES))},"
        nearby = services_in_box(bounding_box(params.origin, params.radius))
        if nearby is not None:
            args["nearby"] = nearby
            where.append("s.service_id = ANY (%(nearby)s::bigint[])")
    sql = f"""SELECT service_id, {distance} FROM (
    SELECT s.service_id, s.name, s.accepting, {_open_now_sql(now, args)} AS open_now,
           s.languages @> ARRAY[%(language)s]::varchar[] AS speaks, {closeness} AS closeness
      FROM directory_servicesearch s
     WHERE {" AND ".join(where)}
    OFFSET 0) AS candidate
 WHERE {within}
 ORDER BY accepting DESC, {farther} open_now DESC, speaks DESC, {nearest} name, service_id
 LIMIT %(limit)s"""
    found = _fetch_quickly(sql, args)
    by_id = with_display_data(Service.objects.all(), now).in_bulk(
        [service_id for service_id, _ in found]
    )
    services = []
    for service_id, miles in found:
        if service_id in by_id:  # not deleted since
            services.append(by_id[service_id])
            services[-1].distance = miles
    return services
