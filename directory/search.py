"""Directory search: by need or term, words, place, hours, language, age and capacity.

Correct on SQLite (words by substring, ranked by where they occur) and fast on PostgreSQL
(a stored tsvector with a GIN index, pg_trgm typo correction, a bounding box on indexed
coordinates before the exact distance).
"""

from __future__ import annotations

import difflib
import math
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime

import zipcodes
from django.db import connection
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
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import ASin, Cos, Power, Radians, Sin, Sqrt
from django.utils import timezone

from directory.models import (
    Language,
    Schedule,
    SearchWord,
    Service,
    ServiceAtLocation,
    ServiceNeed,
    words_of,
)
from directory.taxonomy import TermTree

PAGE_SIZE = 20
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
    try:
        found = zipcodes.matching(zip_code.strip()[:5])
    except (TypeError, ValueError):
        return None
    if not found:
        return None
    return Point(float(found[0]["lat"]), float(found[0]["long"]))


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
    dlng = min(180.0, radius_miles / (MILES_PER_DEGREE_LNG_AT_EQUATOR * math.cos(math.radians(widest))))
    return (origin.latitude - dlat, origin.latitude + dlat, origin.longitude - dlng, origin.longitude + dlng)


def distance_expression(origin: Point, prefix: str = ""):
    """Haversine distance in miles from origin to the row's latitude/longitude, in SQL."""
    lat = Radians(F(f"{prefix}latitude"))
    lng = Radians(F(f"{prefix}longitude"))
    lat0 = math.radians(origin.latitude)
    lng0 = math.radians(origin.longitude)
    h = Power(Sin((lat - Value(lat0)) / 2), 2) + Value(math.cos(lat0)) * Cos(lat) * Power(
        Sin((lng - Value(lng0)) / 2), 2
    )
    return Value(2 * EARTH_RADIUS_MILES) * ASin(Sqrt(h), output_field=FloatField())


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
    """directory_service.search_vector (PostgreSQL only; the migration adds it, not the model).

    Compiled next to the primary key so it follows whatever alias the query gives the table
    (facet subqueries rename it U0).
    """

    output_field = TextField()

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        clone = self.copy()
        clone.pk_col = F("pk").resolve_expression(query, allow_joins, reuse, summarize, for_save)
        return clone

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.pk_col)
        return sql.rsplit(".", 1)[0] + '."search_vector"', params


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


def corrected_words(words: list[str]) -> dict[str, list[str]]:
    """Each query word with the lexicon words it may have meant (itself when known)."""
    if not words:
        return {}
    known = set(SearchWord.objects.filter(word__in=words).values_list("word", flat=True))
    result: dict[str, list[str]] = {}
    unknown = [w for w in words if w not in known]
    if unknown and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for word in unknown:
                # % uses the trigram GIN index; similarity orders the few candidates.
                cursor.execute(
                    "SELECT word FROM directory_searchword WHERE word %% %s "
                    "ORDER BY similarity(word, %s) DESC, word LIMIT 2",
                    [word, word],
                )
                result[word] = [word, *(row[0] for row in cursor.fetchall())]
    elif unknown:
        lexicon = list(SearchWord.objects.values_list("word", flat=True))
        for word in unknown:
            result[word] = [word, *difflib.get_close_matches(word, lexicon, n=2, cutoff=0.75)]
    for word in words:
        result.setdefault(word, [word])
    return result


def _sqlite_stem(word: str) -> str:
    # Substring matching stands in for stemming: "pantries" should find "pantry".
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def with_words(qs: QuerySet[Service], text: str) -> QuerySet[Service]:
    """Services matching every word (or a close spelling of it), annotated with ``rank``."""
    words = words_of(text)[:8]
    if not words:
        return qs.annotate(rank=Value(0.0, output_field=FloatField()))
    variants = corrected_words(words)
    if connection.vendor == "postgresql":
        groups = []
        for i, word in enumerate(words):
            last = i == len(words) - 1
            alternatives = [f"{v}:*" if last and v == word else v for v in variants[word]]
            groups.append("(" + " | ".join(alternatives) + ")")
        query = ToTsQuery(Value(" & ".join(groups)))
        return qs.annotate(rank=TsRankCd(SearchVectorColumn(), query)).filter(
            TsMatches(SearchVectorColumn(), query)
        )
    score = Value(0)
    for word in words:
        matched = Q()
        in_name = Q()
        for variant in variants[word]:
            stem = _sqlite_stem(variant)
            matched |= Q(search_document__icontains=stem)
            in_name |= Q(name__icontains=stem)
        qs = qs.filter(matched)
        score = score + Case(When(in_name, then=Value(3)), default=Value(1), output_field=IntegerField())
    return qs.annotate(rank=score * Value(1.0, output_field=FloatField()))


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
            Exists(nearby_service_at_locations(params.origin, params.radius).filter(service=OuterRef("pk")))
        )
    return qs


def search_services(params: SearchParams, *, now: datetime | None = None) -> SearchResults:
    """One page of services for the search page, with counts for the need and language facets."""
    now = now or timezone.now()
    tree = TermTree.load() if params.term is not None else None
    qs = filtered_services(params, now, tree=tree)
    if params.q:
        qs = with_words(qs, params.q)
    sort = params.sort or ("distance" if params.origin else "relevance")
    if sort == "distance" and params.origin is None:
        sort = "relevance"
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
    services = list(
        with_display_data(qs.order_by(*ordering)[start : start + PAGE_SIZE], now)
    )
    annotate_for_display(services, now)
    return SearchResults(
        services=services,
        total=total,
        page=page,
        num_pages=num_pages,
        need_facets=_need_facets(params, now, tree),
        language_facets=_language_facets(params, now, tree),
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


def _facet_base(params: SearchParams, now: datetime, tree, skip: str) -> QuerySet[Service]:
    qs = filtered_services(params, now, skip=frozenset({skip}), tree=tree)
    if params.q:
        qs = with_words(qs, params.q)
    return qs.order_by().values("pk")


def _need_facets(params: SearchParams, now: datetime, tree) -> list[tuple[str, int]]:
    rows = (
        ServiceNeed.objects.filter(service__in=_facet_base(params, now, tree, "need"))
        .values("category")
        .annotate(n=Count("service_id"))
        .order_by("-n", "category")
    )
    return [(row["category"], row["n"]) for row in rows]


def _language_facets(params: SearchParams, now: datetime, tree) -> list[tuple[str, int]]:
    rows = (
        Language.objects.filter(service__in=_facet_base(params, now, tree, "language"))
        .values("code")
        .annotate(n=Count("service_id", distinct=True))
        .order_by("-n", "code")
    )
    return [(row["code"], row["n"]) for row in rows]


def with_display_data(qs: QuerySet[Service], now: datetime) -> QuerySet[Service]:
    """What a result row shows: organization, phones, languages, hours, locations."""
    return qs.select_related("organization").prefetch_related(
        "phones", "languages", "schedules", "service_at_locations__location"
    )


def annotate_for_display(services: list[Service], now: datetime) -> None:
    """Set is_open_now and todays_hours on prefetched services (in each schedule's zone)."""
    for service in services:
        schedules = list(service.schedules.all())
        service.is_open_now = any(s.is_open_at(now) for s in schedules)
        service.todays_hours = [
            s for s in schedules if s.runs_on(now.astimezone(zoneinfo.ZoneInfo(s.timezone)).weekday())
        ]
        service.has_hours = bool(schedules)


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
    those open now, then those speaking ``language`` (a preference, not a filter). Each
    service carries ``distance`` (miles or None), ``is_open_now`` and ``todays_hours``.
    """
    now = now or timezone.now()
    origin = zip_point(zip_code) if zip_code else None
    params = SearchParams(need=category_code, origin=origin, radius=radius_miles)
    qs = _with_distance(filtered_services(params, now), params)
    accepting = Q(accepts_referrals=True) & ~Q(capacity=Service.Capacity.NOT_ACCEPTING)
    qs = qs.annotate(
        accepting=Case(When(accepting, then=Value(1)), default=Value(0), output_field=IntegerField()),
        open_now=Exists(Schedule.objects.filter(service=OuterRef("pk")).open_at(now)),
        speaks=Exists(Language.objects.filter(service=OuterRef("pk"), code=language or "")),
    )
    ordering = ["-accepting", "-open_now", "-speaks"]
    if origin is not None:
        ordering.append("distance")
    services = list(with_display_data(qs.order_by(*ordering, "name", "pk")[:limit], now))
    annotate_for_display(services, now)
    return services
