"""The read-only HSDS API (Open Referral HSDS 3.0 API shapes), public like the directory.

Lists are paged as the HSDS API pages them ({total_items, total_pages, page_number, size,
first_page, last_page, empty, contents}). A bad parameter is a 400 with a JSON error; an
unknown id, or an address that is not part of the API, a 404; OPTIONS (a browser's CORS
preflight among them) a 204 naming the methods; any other method a 405; the errors in the same
JSON shape ({error, status}). Only active services, and the organizations that receive referrals, are
published, as in the directory's own pages.
"""

from __future__ import annotations

import datetime
import json
import math
import uuid
from collections import defaultdict
from decimal import Decimal
from functools import cache, wraps
from pathlib import Path

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_naive, make_aware
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt

from directory.hsds import rows, schema
from directory.models import (
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
    ServiceTaxonomy,
    TaxonomyTerm,
)
from directory.search import matching_words
from directory.taxonomy import TermTree

PER_PAGE = 50
READ_METHODS = ("GET", "HEAD")
ALLOWED_METHODS = ", ".join((*READ_METHODS, "OPTIONS"))
MAX_PER_PAGE = 500
OPENAPI_FILE = Path(__file__).resolve().parent / "openapi.json"
# HSDS parameters this API does not offer; asking for them is an error, not silently ignored.
UNSUPPORTED = {
    "postcode": gettext_lazy("searching by postcode is not supported by this API"),
    "proximity": gettext_lazy("searching by proximity is not supported by this API"),
}


class BadRequest(Exception):
    pass


def _json(data, status: int = 200) -> JsonResponse:
    response = JsonResponse(
        data, status=status, safe=False, json_dumps_params={"ensure_ascii": False}
    )
    # Public, read-only data: any site may read it from a browser.
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _error(message: str, status: int = 400) -> JsonResponse:
    return _json({"error": message, "status": status}, status=status)


def api_view(view):
    """GET and HEAD, and OPTIONS saying so (any other method is a 405); BadRequest becomes a
    400 and Http404 a 404; the errors as JSON."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "OPTIONS":
            # What may be asked here; a browser asks before a cross-site GET with headers of
            # its own (Authorization, say), and remembers the answer for a day.
            response = HttpResponse(status=204)
            response["Allow"] = ALLOWED_METHODS
            response["Access-Control-Allow-Origin"] = "*"
            response["Access-Control-Allow-Methods"] = ", ".join(READ_METHODS)
            response["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", ""
            )
            response["Access-Control-Max-Age"] = "86400"
            return response
        if request.method not in READ_METHODS:
            response = _error(
                _("this API is read-only: %(method)s is not allowed; use GET")
                % {"method": request.method},
                405,
            )
            response["Allow"] = ALLOWED_METHODS
            return response
        try:
            return view(request, *args, **kwargs)
        except BadRequest as error:
            return _error(str(error), 400)
        except Http404 as error:
            return _error(str(error) or _("not found"), 404)

    # Nothing here changes anything, so there is nothing for a CSRF token to protect; without
    # this a POST got the CSRF middleware's HTML 403 page before the JSON 405 above.
    return csrf_exempt(wrapper)


# --- parameters -----------------------------------------------------------------------------


def _int(request: HttpRequest, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        if high is None:
            raise BadRequest(
                _("%(name)s must be a whole number of %(low)d or more") % {"name": name, "low": low}
            )
        raise BadRequest(
            _("%(name)s must be a whole number from %(low)d to %(high)d")
            % {"name": name, "low": low, "high": high}
        )
    return value


def _bool(request: HttpRequest, name: str) -> bool:
    raw = request.GET.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise BadRequest(_("%(name)s must be true or false") % {"name": name})


def _uuid(request: HttpRequest, name: str) -> uuid.UUID | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise BadRequest(_("%(name)s must be an HSDS id (a UUID)") % {"name": name}) from None


def _since(request: HttpRequest) -> datetime.datetime | None:
    raw = request.GET.get("modified_after", "").strip()
    if not raw:
        return None
    try:
        moment = parse_datetime(raw.replace(" ", "+"))
        if moment is None and (day := parse_date(raw)):
            moment = datetime.datetime.combine(day, datetime.time())
    except ValueError:
        moment = None
    if moment is None:
        raise BadRequest(
            _("modified_after must be a date or date-time such as 2026-01-31T12:00:00Z")
        )
    return make_aware(moment) if is_naive(moment) else moment


def _common(request: HttpRequest) -> None:
    for name, message in UNSUPPORTED.items():
        if request.GET.get(name):
            raise BadRequest(str(message))
    asked = request.GET.get("format", "json")
    if asked != "json":
        raise BadRequest(
            _(
                "format=%(format)s is not supported: this API answers in JSON only (format=json, the default)"
            )
            % {"format": asked[:20]}
        )


def _words(request: HttpRequest) -> list[str]:
    return request.GET.get("search", "").split()[:10]


def _page(request: HttpRequest, queryset: QuerySet, serialize) -> JsonResponse:
    _common(request)
    page = _int(request, "page", 1, 1)
    per_page = _int(request, "per_page", PER_PAGE, 1, MAX_PER_PAGE)
    total = queryset.count()
    total_pages = math.ceil(total / per_page)
    start = (page - 1) * per_page
    items = list(queryset[start : start + per_page]) if start < total else []
    contents = serialize(items)
    return _json(
        {
            "total_items": total,
            "total_pages": total_pages,
            "page_number": page,
            "size": len(contents),
            "first_page": page == 1,
            "last_page": page >= total_pages,
            "empty": not contents,
            "contents": contents,
        }
    )


# --- serialization --------------------------------------------------------------------------


def _clean(row: dict | None) -> dict | None:
    """An HSDS object: no Handoff extension columns, empty text as null, amounts as numbers."""
    if row is None:
        return None
    out = {}
    for key, value in row.items():
        if key.startswith("handoff_"):
            continue
        if value == "":
            value = None
        elif isinstance(value, Decimal):
            value = float(value)
        out[key] = value
    return out


def _location(location: Location, *, full: bool) -> dict:
    data = _clean(rows.location_row(location))
    data["addresses"] = [a for a in [_clean(rows.address_row(location))] if a]
    data["accessibility"] = [a for a in [_clean(rows.accessibility_row(location))] if a]
    if full:
        data["phones"] = [_clean(rows.phone_row(p)) for p in location.phones.all()]
        data["languages"] = [_clean(rows.language_row(lang)) for lang in location.languages.all()]
        data["schedules"] = [_clean(rows.schedule_row(s)) for s in location.schedules.all()]
    return data


def _term(term: TaxonomyTerm) -> dict:
    return _clean(rows.taxonomy_term_row(term))


SERVICE_PREFETCH = (
    Prefetch("phones", Phone.objects.select_related("location", "organization")),
    Prefetch("schedules", Schedule.objects.select_related("location", "service_at_location")),
    "service_areas",
    "cost_options",
    "required_documents",
    Prefetch("languages", Language.objects.select_related("location", "phone")),
    Prefetch(
        "service_at_locations", ServiceAtLocation.objects.select_related("location__organization")
    ),
    Prefetch(
        "service_at_locations__location__phones",
        Phone.objects.select_related("service", "organization"),
    ),
    Prefetch(
        "service_at_locations__location__languages",
        Language.objects.select_related("service", "phone"),
    ),
    Prefetch(
        "service_at_locations__location__schedules",
        Schedule.objects.select_related("service", "service_at_location"),
    ),
)


def _links_of(services: list[Service]) -> dict[int, list[ServiceTaxonomy]]:
    """Each service's taxonomy links (HSDS attributes) with their terms, in one query."""
    links: dict[int, list[ServiceTaxonomy]] = defaultdict(list)
    if services:
        for link in (
            ServiceTaxonomy.objects.filter(service__in=services)
            .select_related("taxonomy_term__parent")
            .order_by("taxonomy_term__code")
        ):
            links[link.service_id].append(link)
    return links


def _service(service: Service, links: list[ServiceTaxonomy] | None, *, full: bool) -> dict:
    data = _clean(rows.service_row(service))
    data["organization"] = _clean(rows.organization_row(service.organization))
    if not full:
        return data
    for link in links or []:
        link.service = service
    by_sal: dict[int, list[Schedule]] = defaultdict(list)
    for schedule in service.schedules.all():
        by_sal[schedule.service_at_location_id].append(schedule)
    data.update(
        phones=[_clean(rows.phone_row(p)) for p in service.phones.all()],
        schedules=[_clean(rows.schedule_row(s)) for s in by_sal.pop(None, [])],
        service_areas=[_clean(rows.service_area_row(a)) for a in service.service_areas.all()],
        languages=[_clean(rows.language_row(lang)) for lang in service.languages.all()],
        cost_options=[_clean(rows.cost_option_row(c)) for c in service.cost_options.all()],
        required_documents=[
            _clean(rows.required_document_row(d)) for d in service.required_documents.all()
        ],
        service_at_locations=[
            {
                **_clean(rows.service_at_location_row(sal)),
                "location": _location(sal.location, full=True),
                "schedules": [_clean(rows.schedule_row(s)) for s in by_sal.get(sal.pk, [])],
            }
            for sal in service.service_at_locations.all()
        ],
        attributes=[
            {**_clean(rows.attribute_row(link)), "taxonomy_term": _term(link.taxonomy_term)}
            for link in links or []
        ],
        contacts=[],
        funding=[],
        program=None,
        metadata=[],
    )
    return data


def _services(services: list[Service], *, full: bool) -> list[dict]:
    links = _links_of(services) if full else {}
    return [_service(s, links.get(s.pk), full=full) for s in services]


def _organization(org: Organization, *, full: bool) -> dict:
    data = _clean(rows.organization_row(org))
    if full:
        data.update(
            services=[_clean(rows.service_row(s)) for s in org.services.all()],
            phones=[_clean(rows.phone_row(p)) for p in org.phones.all()],
            locations=[_location(loc, full=False) for loc in org.locations.all()],
            organization_identifiers=[
                i for i in [_clean(rows.organization_identifier_row(org))] if i
            ],
            contacts=[],
            funding=[],
            programs=[],
            metadata=[],
        )
    return data


ORGANIZATION_PREFETCH = (
    Prefetch("services", Service.objects.active().order_by("name", "pk")),
    Prefetch("phones", Phone.objects.select_related("service", "location")),
    "locations",
)


# --- querysets ------------------------------------------------------------------------------


def _published_services() -> QuerySet[Service]:
    return Service.objects.active().select_related("organization")


def _published_organizations() -> QuerySet[Organization]:
    return Organization.objects.receiving()


def _vocabulary_of(taxonomy_id: uuid.UUID) -> str:
    for vocabulary in TaxonomyTerm.objects.values_list("vocabulary", flat=True).distinct():
        if schema.taxonomy_id(vocabulary) == taxonomy_id:
            return vocabulary
    raise BadRequest(_("there is no taxonomy with the id %(id)s") % {"id": taxonomy_id})


def _term_and_descendants(hsds_id: uuid.UUID) -> list[int]:
    """The term with this HSDS id and every term under it, as the search page's term filter."""
    term = TaxonomyTerm.objects.filter(hsds_id=hsds_id).values_list("pk", flat=True).first()
    return sorted(TermTree.load().with_descendants([term])) if term is not None else []


def _filter_services(
    request: HttpRequest, services: QuerySet[Service], prefix: str = ""
) -> QuerySet[Service]:
    """The HSDS service filters (search, taxonomy_term_id, taxonomy_id, organization_id,
    modified_after), combined with AND; prefix reaches the service from another model."""
    if words := request.GET.get("search", ""):
        # The directory's own word search: the words a person would type on its search page
        # find the same services here.
        found = matching_words(Service.objects.all(), words).values("pk")
        services = services.filter(**{f"{prefix}pk__in": found})
    service_ref = OuterRef("service_id" if prefix else "pk")
    if term := _uuid(request, "taxonomy_term_id"):
        services = services.filter(
            Exists(
                ServiceTaxonomy.objects.filter(
                    service=service_ref, taxonomy_term_id__in=_term_and_descendants(term)
                )
            )
        )
    if taxonomy := _uuid(request, "taxonomy_id"):
        vocabulary = _vocabulary_of(taxonomy)
        services = services.filter(
            Exists(
                ServiceTaxonomy.objects.filter(
                    service=service_ref, taxonomy_term__vocabulary=vocabulary
                )
            )
        )
    if organization := _uuid(request, "organization_id"):
        services = services.filter(**{f"{prefix}organization__hsds_id": organization})
    if since := _since(request):
        services = services.filter(**{f"{prefix}updated_at__gte": since})
    return services


# --- views ----------------------------------------------------------------------------------


@api_view
def root(request: HttpRequest) -> HttpResponse:
    """What this API is (HSDS API: GET /)."""
    return _json(
        {
            "version": schema.HSDS_VERSION,
            "profile": "https://docs.openreferral.org/en/3.0/",
            "openapi_url": request.build_absolute_uri(reverse("hsds_api:openapi")),
            "description": _(
                "The Handoff community resource directory, read-only, in Open Referral HSDS 3.0."
            ),
            "publisher": {"name": "Handoff"},
        }
    )


@api_view
def openapi(request: HttpRequest) -> HttpResponse:
    return _json(_openapi_document())


@cache
def _openapi_document() -> dict:
    return json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))


@api_view
def services(request: HttpRequest) -> HttpResponse:
    full = _bool(request, "full")
    minimal = _bool(request, "minimal")
    queryset = _filter_services(request, _published_services()).order_by("name", "pk")
    if full:
        queryset = queryset.prefetch_related(*SERVICE_PREFETCH)
    if minimal:
        return _page(
            request,
            queryset.select_related(None).only("hsds_id", "updated_at"),
            lambda items: [{"id": s.hsds_id, "modified_date": s.updated_at} for s in items],
        )
    return _page(request, queryset, lambda items: _services(items, full=full))


@api_view
def service(request: HttpRequest, hsds_id: str) -> HttpResponse:
    found = _get(_published_services().prefetch_related(*SERVICE_PREFETCH), hsds_id, _("service"))
    return _json(_services([found], full=True)[0])


@api_view
def organizations(request: HttpRequest) -> HttpResponse:
    full = _bool(request, "full")
    queryset = _published_organizations()
    for word in _words(request):
        queryset = queryset.filter(Q(name__icontains=word) | Q(alternate_name__icontains=word))
    if term := _uuid(request, "taxonomy_term_id"):
        queryset = queryset.filter(
            Exists(
                ServiceTaxonomy.objects.filter(
                    service__organization=OuterRef("pk"),
                    taxonomy_term_id__in=_term_and_descendants(term),
                )
            )
        )
    if taxonomy := _uuid(request, "taxonomy_id"):
        vocabulary = _vocabulary_of(taxonomy)
        queryset = queryset.filter(
            Exists(
                ServiceTaxonomy.objects.filter(
                    service__organization=OuterRef("pk"), taxonomy_term__vocabulary=vocabulary
                )
            )
        )
    queryset = queryset.order_by("name", "pk")
    if full:
        queryset = queryset.prefetch_related(*ORGANIZATION_PREFETCH)
    return _page(request, queryset, lambda items: [_organization(o, full=full) for o in items])


@api_view
def organization(request: HttpRequest, hsds_id: str) -> HttpResponse:
    found = _get(
        _published_organizations().prefetch_related(*ORGANIZATION_PREFETCH),
        hsds_id,
        _("organization"),
    )
    return _json(_organization(found, full=True))


@api_view
def taxonomy_terms(request: HttpRequest) -> HttpResponse:
    queryset = TaxonomyTerm.objects.select_related("parent")
    for word in _words(request):
        queryset = queryset.filter(Q(name__icontains=word) | Q(code__icontains=word))
    if taxonomy := _uuid(request, "taxonomy_id"):
        queryset = queryset.filter(vocabulary=_vocabulary_of(taxonomy))
    if parent := _uuid(request, "parent_id"):
        queryset = queryset.filter(parent__hsds_id=parent)
    if _bool(request, "top_only"):
        queryset = queryset.filter(parent__isnull=True)
    return _page(
        request,
        queryset.order_by("vocabulary", "code", "pk"),
        lambda items: [_term(t) for t in items],
    )


@api_view
def service_at_locations(request: HttpRequest) -> HttpResponse:
    full = _bool(request, "full")
    queryset = ServiceAtLocation.objects.filter(
        service__status=Service.Status.ACTIVE
    ).select_related("service__organization", "location__organization")
    queryset = _filter_services(request, queryset, prefix="service__").order_by(
        "service__name", "pk"
    )
    if full:
        queryset = queryset.prefetch_related(
            *(
                Prefetch(f"service__{p}") if isinstance(p, str) else _prefixed(p)
                for p in SERVICE_PREFETCH
            )
        )

    def serialize(items: list[ServiceAtLocation]) -> list[dict]:
        services_json = _services([sal.service for sal in items], full=full)
        return [
            {
                **_clean(rows.service_at_location_row(sal)),
                "service": service_json,
                "location": _location(sal.location, full=False),
            }
            for sal, service_json in zip(items, services_json, strict=True)
        ]

    return _page(request, queryset, serialize)


def _prefixed(prefetch: Prefetch) -> Prefetch:
    return Prefetch(f"service__{prefetch.prefetch_through}", queryset=prefetch.queryset)


def _get(queryset: QuerySet, hsds_id: str, noun: str):
    try:
        key = uuid.UUID(hsds_id)
    except ValueError:
        raise Http404(
            _("there is no %(noun)s with the id %(id)s") % {"noun": noun, "id": hsds_id}
        ) from None
    found = queryset.filter(hsds_id=key).first()
    if found is None:
        raise Http404(_("there is no %(noun)s with the id %(id)s") % {"noun": noun, "id": hsds_id})
    return found


@csrf_exempt
def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any address under api/hsds/ that is not part of the API, with any method: a JSON 404."""
    without_slash = request.path_info.rstrip("/")
    if request.path_info.endswith("/") and _is_api_address(without_slash):
        message = _(
            "there is nothing at %(path)s: the address is %(right)s, without the slash at the end"
        ) % {"path": request.path, "right": request.path.rstrip("/")}
    else:
        message = _("there is nothing at %(path)s; %(openapi)s lists what this API offers") % {
            "path": request.path,
            "openapi": reverse("hsds_api:openapi"),
        }
    return _error(message, 404)


def _is_api_address(path_info: str) -> bool:
    try:
        match = resolve(path_info)
    except Resolver404:
        return False
    return match.namespace == "hsds_api" and match.url_name != "unknown"
