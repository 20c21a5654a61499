from __future__ import annotations

import functools
import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from accounts.models import Role
from accounts.scoping import (
    current_organization,
    get_in_current_org_or_404,
    org_admin_required,
    role_required,
)
from directory.forms import DAY_NAMES, ScheduleFormSet, SearchForm, ServiceEditForm
from directory.languages import language_name
from directory.models import Language, Service
from directory.search import SearchParams, annotate_for_display, search_services, with_display_data
from directory.taxonomy import NEED_NAMES


@require_GET
@role_required()
@vary_on_headers("HX-Request")
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    # An invalid filter (an unknown ZIP) is shown at its field; the rest still search.
    params = form.params() if form.is_valid() else _params_without_errors(form)
    results = search_services(params)
    _prepare_cards(results.services, request)
    template = "directory/search.html#results" if request.htmx else "directory/search.html"
    need_link = _facet_link(request, "need")
    language_link = _facet_link(request, "language")
    return TemplateResponse(
        request,
        template,
        {
            "form": form,
            "results": results,
            "params": params,
            "need_facets": [
                (code, NEED_NAMES.get(code, code), n, need_link(code)) for code, n in results.need_facets
            ],
            "language_facets": [
                (code, language_name(code), n, language_link(code)) for code, n in results.language_facets
            ],
            "need_names": NEED_NAMES,
        },
    )


def _prepare_cards(services: list[Service], request: HttpRequest) -> None:
    """What each result card shows, made once here: through tags and filters (a url tag,
    a time filter per opening, two blocktranslates, …) twenty cards took ~10 ms a page."""
    placeholder = "00000000-0000-0000-0000-000000000000"
    service_url = reverse("directory:service", args=[placeholder])
    refer_url = reverse("referrals:new")
    patient = request.GET.get("patient", "")
    refer_extra = "&" + urlencode({"patient": patient}) if patient else ""
    time_text = functools.cache(lambda value: formats.time_format(value, "g:i A"))
    today, closed_today = _("Today:"), _("Closed today")
    for service in services:
        service.url = service_url.replace(placeholder, str(service.hsds_id))
        service.refer_url = f"{refer_url}?service={service.pk}{refer_extra}"
        if service.todays_hours:
            spans = ", ".join(
                f"{time_text(s.opens_at)}–{time_text(s.closes_at)}" for s in service.todays_hours
            )
            service.hours_text = f"{today} {spans}"
        else:
            service.hours_text = closed_today if service.has_hours else ""
        service.languages_text = ", ".join(lang.name for lang in service.spoken_languages)
        service.distance_text = (
            _("%(miles)s miles away") % {"miles": formats.number_format(service.distance, 1)}
            if service.distance is not None
            else ""
        )
        # The message {% blocktranslate %} used, its name escaped as the tag does.
        service.refer_label = mark_safe(
            _('Refer<span class="usa-sr-only"> to %(name)s</span>')
            % {"name": escape(service.name)}
        )


def _facet_link(request: HttpRequest, key: str):
    """The current search with ``key`` set to a facet's code, from the first page.

    What {% querystring key=code page=None %} gives, without copying the query per link
    (a page has up to ~35 facet links).
    """
    pairs = [(k, v) for k, values in request.GET.lists() if k not in (key, "page") for v in values]
    return lambda code: "?" + urlencode([*pairs, (key, code)])


def _params_without_errors(form: SearchForm) -> SearchParams:
    for name in list(form.errors):
        form.cleaned_data.pop(name, None)
    return form.params()


def _visible_service(request: HttpRequest, hsds_id: uuid.UUID) -> Service:
    """An active service anyone signed in may see, or any service of the user's organization."""
    qs = with_display_data(Service.objects.all(), timezone.now()).prefetch_related(
        "taxonomy_terms", "required_documents", "cost_options", "service_areas", "service_at_locations__location__phones"
    )
    service = qs.filter(hsds_id=hsds_id).first()
    if service is None:
        raise Http404
    if service.status != Service.Status.ACTIVE and service.organization_id != current_organization(request).pk:
        raise Http404
    return service


@require_GET
@role_required()
def service_detail(request: HttpRequest, hsds_id: uuid.UUID) -> HttpResponse:
    service = _visible_service(request, hsds_id)
    now = timezone.now()
    annotate_for_display([service], now)
    week = [(name, [s for s in service.schedules.all() if s.runs_on(i)]) for i, name in enumerate(DAY_NAMES)]
    return TemplateResponse(
        request,
        "directory/service_detail.html",
        {"service": service, "week": week, "languages": [language_name(lang.code) for lang in service.languages.all()]},
    )


@require_GET
@role_required(Role.CBO_STAFF, Role.ORG_ADMIN)
def my_services(request: HttpRequest) -> HttpResponse:
    organization = current_organization(request)
    services = list(with_display_data(Service.objects.of_organization(organization), timezone.now()))
    annotate_for_display(services, timezone.now())
    return TemplateResponse(
        request, "directory/my_services.html", {"services": services, "organization": organization}
    )


@require_http_methods(["GET", "POST"])
@org_admin_required
def edit_service(request: HttpRequest, hsds_id: uuid.UUID) -> HttpResponse:
    service = get_in_current_org_or_404(Service.objects.all(), request, hsds_id=hsds_id)
    previous_capacity = service.capacity
    form = ServiceEditForm(request.POST or None, instance=service)
    hours = ScheduleFormSet(request.POST or None, instance=service, prefix="hours")
    if request.method == "POST" and form.is_valid() and hours.is_valid():
        with transaction.atomic():
            service = form.save()
            if service.capacity != previous_capacity:
                service.set_capacity(service.capacity, by=request.user)
            hours.save()
            _replace_languages(service, form.cleaned_data["languages"])
            service.refresh_search_document()
        messages.success(request, _("%(name)s was saved. Search shows the change now.") % {"name": service.name})
        return redirect("directory:my_services")
    return TemplateResponse(
        request,
        "directory/edit_service.html",
        {"form": form, "hours": hours, "service": service},
        status=400 if request.method == "POST" else 200,
    )


def _replace_languages(service: Service, codes: list[str]) -> None:
    service.languages.exclude(code__in=codes).delete()
    existing = set(service.languages.values_list("code", flat=True))
    with translation.override("en"):  # HSDS language names are stored in English
        Language.objects.bulk_create(
            Language(service=service, code=code, name=language_name(code))
            for code in codes
            if code not in existing
        )
