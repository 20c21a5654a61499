from __future__ import annotations

import functools
import uuid
from html import escape as esc
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from accounts.models import Role
from accounts.scoping import (
    current_membership,
    current_organization,
    get_in_current_org_or_404,
    org_admin_required,
    role_required,
)
from directory.forms import (
    DAY_NAMES,
    RADIUS_CHOICES,
    ScheduleFormSet,
    SearchForm,
    ServiceEditForm,
)
from directory.languages import LANGUAGES, language_name
from directory.models import Language, Service
from directory.search import (
    SearchParams,
    annotate_for_display,
    search_services,
    with_display_data,
)
from directory.taxonomy import NEED_NAMES, english_words_for
from patients.access import get_patient_or_404
from patients.models import Patient


@require_GET
@role_required()
@vary_on_headers("HX-Request")
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    # An invalid filter (an unknown ZIP) is shown at its field; the rest still search.
    params = form.params() if form.is_valid() else _params_without_errors(form)
    results = search_services(params)
    membership = current_membership(request)
    cards = _result_cards(
        results.services,
        request,
        referrer=membership is not None and membership.role == Role.REFERRER,
    )
    patient = _search_patient(request)
    # An htmx update swaps the results and, out of band, the count, the field groups (with any
    # error at its field) and the patient banner: see the "update" partial.
    template = "directory/search.html#update" if request.htmx else "directory/search.html"
    return TemplateResponse(
        request,
        template,
        {
            "form": form,
            "results": results,
            "params": params,
            "cards": cards,
            "notes": [*_result_notes(form, params), *_spelling_notes(results.spellings)],
            "no_results": _no_results_message(form, params),
            "patient": patient,
            "language_offer": _language_offer(request, patient, params),
            "need_facets": _facet_items(
                request,
                "need",
                params.need,
                [(code, NEED_NAMES.get(code, code), n) for code, n in results.need_facets],
            ),
            "language_facets": _facet_items(
                request,
                "language",
                params.language,
                [(code, language_name(code), n) for code, n in results.language_facets],
            ),
        },
    )


def _search_patient(request: HttpRequest) -> Patient | None:
    """The patient the search is for, if one of the current organization's; else None."""
    pk = request.GET.get("patient")
    if not pk:
        return None
    try:
        return get_patient_or_404(request, pk)
    except (Http404, PermissionDenied):
        return None  # another organization's patient (or none): say nothing, not even a 404


def _language_offer(
    request: HttpRequest, patient: Patient | None, params: SearchParams
) -> dict | None:
    """A link narrowing the search to the patient's language, offered, never applied unasked."""
    if patient is None or params.language or patient.preferred_language in ("", "en"):
        return None
    kept = [
        (k, v) for k, values in request.GET.lists() if k not in ("language", "page") for v in values
    ]
    query = urlencode([*kept, ("language", patient.preferred_language)])
    return {
        "href": f"{reverse('directory:search')}?{query}",
        "label": _("Only services that speak %(language)s")
        % {"language": language_name(patient.preferred_language)},
    }


def _result_notes(form: SearchForm, params: SearchParams) -> list[str]:
    """What the results did not use, said beside the count (and announced with it)."""
    notes = []
    for name in form.errors:
        if name == "zip":
            notes.append(
                _(
                    "The ZIP code %(zip)s was not used, so these results are not limited by distance."
                )
                % {"zip": form.data.get("zip", "").strip()}
            )
        elif name in form.fields and name != "page":  # a page past the end shows the first
            notes.append(
                _("“%(filter)s” was not used: see the message at the field.")
                % {"filter": form.fields[name].label or name}
            )
    radius_chosen = params.radius != form.fields["radius"].empty_value
    if (
        params.origin is None
        and "zip" not in form.errors
        and (params.sort == "distance" or radius_chosen)
    ):
        notes.append(
            _("Distance needs a ZIP code: enter one to sort by distance or to limit how far away.")
        )
    return notes


# At most this many of what a word was searched with are named in its note.
NOTE_SPELLINGS = 3


def _spelling_notes(spellings: dict[str, list[str]]) -> list[str]:
    """A word the directory does not know was searched with its nearest spellings too: say so,
    so that "ebt" finding "Debt Management" is not a mystery. A word of another language that
    names a need or a type of service was searched with their English names: say that."""
    notes = []
    for word, searched in spellings.items():
        others = [spelling for spelling in searched if spelling != word]
        if not others:
            continue
        if english_words_for(word):
            note = _(
                "Services here are described in English, so for “%(word)s” we also searched"
                " for %(others)s."
            )
        else:
            note = _(
                "“%(word)s” is not a word in the directory, so we also searched for %(others)s."
            )
        shown = ", ".join(f"“{other}”" for other in others[:NOTE_SPELLINGS])
        if len(others) > NOTE_SPELLINGS:
            more = len(others) - NOTE_SPELLINGS
            shown = ngettext("%(shown)s and %(n)s more", "%(shown)s and %(n)s more", more) % {
                "shown": shown,
                "n": more,
            }
        notes.append(note % {"word": word, "others": shown})
    return notes


def _no_results_message(form: SearchForm, params: SearchParams) -> str:
    if params.origin is None:
        return _("No services match these filters. Try fewer filters.")
    miles = int(params.radius) if params.radius == int(params.radius) else params.radius
    within = ngettext(
        "No services within %(miles)s mile of ZIP code %(zip)s.",
        "No services within %(miles)s miles of ZIP code %(zip)s.",
        miles,
    ) % {"miles": miles, "zip": form.cleaned_data["zip"]}
    largest = max(float(value) for value, _label in RADIUS_CHOICES)
    # Outside the f-string: xgettext (makemessages) does not look inside f-strings.
    if params.radius < largest:
        advice = _("Try a larger distance or fewer filters.")
    else:
        advice = _("Try another ZIP code or fewer filters.")
    return f"{within} {advice}"


# The result cards and facet links are written here, not by the template: they repeat 20 and
# ~35 times a page, and through template tags and filters they took ~5 ms of every search
# (benchmarks/search.py); this takes ~1 ms. Same markup; every value is escaped (html.escape,
# what django.utils.html.escape calls, without its lazy-string check per value).
CARD_HTML = """<li class="usa-card handoff-result" data-testid="result">
      <div class="usa-card__container">
        <div class="usa-card__header">
          <h2 class="usa-card__heading"><a href="{url}">{name}</a></h2>
          <p class="margin-0">{organization}</p>
        </div>
        <div class="usa-card__body">
          <ul class="usa-list usa-list--unstyled handoff-result__facts">
            {facts}
          </ul>
        </div>{footer}
      </div>
    </li>"""


def _result_cards(
    services: list[Service], request: HttpRequest, *, referrer: bool
) -> list[SafeString]:
    """Each result's card: name, organization, distance, hours, phone, languages, capacity, Refer."""
    placeholder = "00000000-0000-0000-0000-000000000000"
    service_url = reverse("directory:service", args=[placeholder])
    refer_url = reverse("referrals:new")
    refer_context = _refer_context(request.GET)
    refer_extra = f"&{refer_context}" if refer_context else ""
    # A service page opened from the results returns to them and refers with their patient and need.
    search_query = _search_context(request.GET)
    search_extra = f"?{search_query}" if search_query else ""
    # The language's TIME_FORMAT: "9:00 AM" in English (handoff/formats/en), "9:00" in Spanish.
    time_text = functools.cache(formats.time_format)
    # Each message translated once a page, not once a card.
    capacity = {value: esc(str(label)) for value, label in Service.Capacity.choices}
    # Names in the page's language: the stored Language.name is HSDS's English one.
    language_names = {code: str(name) for code, name in LANGUAGES.items()}
    today, closed_today, all_day = _("Today:"), _("Closed today"), _("Open 24 hours")
    no_hours = _("No opening hours are listed. Call before going.")
    open_now, closed_now = esc(_("Open now")), esc(_("Closed now"))
    open_tag = f'<span class="usa-tag bg-green">{open_now}</span>'
    closed_tag = f'<span class="usa-tag bg-base">{closed_now}</span>'
    phone_label, languages_label = esc(_("Phone:")), esc(_("Languages:"))
    capacity_label = esc(_("Capacity:"))
    no_referrals = " · " + esc(_("Does not take referrals through Handoff"))
    miles_away = _("%(miles)s miles away")
    address_label = esc(_("Address:"))
    refer_to = _('Refer<span class="usa-sr-only"> to %(name)s</span>')
    cards = []
    for service in services:
        facts = []
        if service.distance is not None:
            # Rounded as |floatformat:1 rounds elsewhere; number_format alone cuts 0.28 to 0.2.
            miles = miles_away % {"miles": formats.number_format(round(service.distance, 1), 1)}
            facts.append(f'<li data-testid="distance">{esc(miles)}</li>')
        where = service.place and (service.place.one_line_address or service.place.name)
        if where:
            count = service.location_count
            if count < 2:
                label = address_label
            elif service.distance is not None:  # the distance is to this one
                label = esc(
                    ngettext(
                        "Nearest of %(count)s location:", "Nearest of %(count)s locations:", count
                    )
                    % {"count": count}
                )
            else:
                label = esc(
                    ngettext("One of %(count)s location:", "One of %(count)s locations:", count)
                    % {"count": count}
                )
            facts.append(f'<li data-testid="place">{label} {esc(where)}</li>')
        if service.todays_hours:
            spans = ", ".join(
                all_day if s.all_day else f"{time_text(s.opens_at)}–{time_text(s.closes_at)}"
                for s in service.todays_hours
            )
            hours = f"{today} {spans}"
        else:
            hours = closed_today if service.has_hours else no_hours
        tag = open_tag if service.is_open_now else closed_tag if service.has_hours else ""
        facts.append(f"<li>{tag}\n              {esc(hours)}</li>")
        phone = service.first_phone
        if phone is not None:
            facts.append(
                f'<li>{phone_label} <a href="tel:{esc(phone.number)}">{esc(str(phone))}</a></li>'
            )
        if service.spoken_languages:
            names = ", ".join(
                language_names.get(lang.code, lang.name) for lang in service.spoken_languages
            )
            facts.append(f"<li>{languages_label} {esc(names)}</li>")
        facts.append(
            f'<li>{capacity_label} <span data-testid="capacity">{capacity.get(service.capacity, "")}</span>'
            f"{'' if service.accepts_referrals else no_referrals}</li>"
        )
        footer = ""
        if referrer and service.accepts_referrals:
            # The message {% blocktranslate %} used, its name escaped as the tag does.
            label = refer_to % {"name": esc(service.name)}
            href = esc(f"{refer_url}?service={service.pk}{refer_extra}")
            footer = (
                '\n        <div class="usa-card__footer">\n'
                f'          <a class="usa-button" href="{href}">{label}</a>\n        </div>'
            )
        cards.append(
            mark_safe(
                CARD_HTML.format(
                    url=esc(service_url.replace(placeholder, str(service.hsds_id)) + search_extra),
                    name=esc(service.name),
                    organization=esc(service.organization.name),
                    facts="\n            ".join(facts),
                    footer=footer,
                )
            )
        )
    return cards


def _search_context(query) -> str:
    """The search's own parameters (and the patient it is for) from a query, encoded again."""
    return urlencode(
        [(k, v) for k, values in query.lists() if k in SEARCH_CONTEXT for v in values if v]
    )


def _refer_context(query) -> str:
    """What a Refer link carries from a search: whom it is for and the need searched."""
    return urlencode([(k, query[k]) for k in ("patient", "need") if query.get(k)])


SEARCH_CONTEXT = frozenset([*SearchForm.base_fields, "patient"])
TERM_LINK_CONTEXT = SEARCH_CONTEXT - {"q", "need", "term", "page"}


def _facet_items(
    request: HttpRequest, key: str, current: str, facets: list[tuple[str, str, int]]
) -> list[SafeString]:
    """One link per facet value: the current search with ``key`` set to it, from the first page.

    What {% querystring key=code page=None %} gives, without copying the query per link.
    """
    kept = urlencode(
        [(k, v) for k, values in request.GET.lists() if k not in (key, "page") for v in values]
    )
    start = f"?{kept}&" if kept else "?"
    items = []
    for code, name, count in facets:
        href = esc(start + urlencode({key: code}))
        chosen = ' aria-current="true" class="text-bold"' if code == current else ""
        number = formats.number_format(count, force_grouping=True)
        items.append(
            mark_safe(
                f'<li><a href="{href}"{chosen}>{esc(str(name))}</a> '
                f'<span class="usa-tag usa-tag--big bg-base-lighter text-ink">{number}</span></li>'
            )
        )
    return items


def _params_without_errors(form: SearchForm) -> SearchParams:
    for name in list(form.errors):
        form.cleaned_data.pop(name, None)
    return form.params()


def _visible_service(request: HttpRequest, hsds_id: uuid.UUID) -> Service:
    """An active service anyone signed in may see, or any service of the user's organization."""
    qs = with_display_data(Service.objects.all(), timezone.now()).prefetch_related(
        "taxonomy_terms",
        "required_documents",
        "cost_options",
        "service_areas",
        "service_at_locations__location__phones",
    )
    service = qs.filter(hsds_id=hsds_id).first()
    if service is None:
        raise Http404
    if (
        service.status != Service.Status.ACTIVE
        and service.organization_id != current_organization(request).pk
    ):
        raise Http404
    return service


@require_GET
@role_required()
def service_detail(request: HttpRequest, hsds_id: uuid.UUID) -> HttpResponse:
    service = _visible_service(request, hsds_id)
    now = timezone.now()
    annotate_for_display([service], now)
    week = [
        (name, [s for s in service.schedules.all() if s.runs_on(i)])
        for i, name in enumerate(DAY_NAMES)
    ]
    search_query = _search_context(request.GET)
    refer_context = _refer_context(request.GET)
    refer_query = urlencode({"service": service.pk}) + (
        f"&{refer_context}" if refer_context else ""
    )
    # A term's link looks for more of its kind where the search looked, for the same person:
    # the place, hours, language and patient stay; what was searched for is the term now.
    kept = urlencode(
        [(k, v) for k, values in request.GET.lists() if k in TERM_LINK_CONTEXT for v in values if v]
    )
    return TemplateResponse(
        request,
        "directory/service_detail.html",
        {
            "service": service,
            "week": week,
            "languages": [language_name(lang.code) for lang in service.languages.all()],
            "search_query": search_query,  # the results it was opened from, to go back to
            "refer_query": refer_query,
            "term_query": f"{kept}&" if kept else "",
        },
    )


@require_GET
@role_required(Role.CBO_STAFF, Role.ORG_ADMIN)
def my_services(request: HttpRequest) -> HttpResponse:
    organization = current_organization(request)
    services = list(
        with_display_data(Service.objects.of_organization(organization), timezone.now())
    )
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
        messages.success(
            request, _("%(name)s was saved. Search shows the change now.") % {"name": service.name}
        )
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
