from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from patients.access import get_patient_or_404, referrer_required, referring_organization
from patients.forms import PatientForm, PatientSearchForm, RegisterPatientForm
from patients.models import Patient
from screening.forms import AddNeedForm, ResolveNeedForm

SEARCH_LIMIT = 50


@require_GET
@referrer_required
def patient_list(request: HttpRequest) -> HttpResponse:
    organization = referring_organization(request)
    form = PatientSearchForm(request.GET or None)
    patients = Patient.objects.for_organization(organization)
    query = ""
    if form.is_valid():
        query = form.cleaned_data["q"]
        patients = patients.search(query)
    return TemplateResponse(
        request,
        "patients/list.html",
        {"form": form, "patients": patients[:SEARCH_LIMIT], "query": query, "limit": SEARCH_LIMIT},
    )


@require_http_methods(["GET", "POST"])
@referrer_required
def register(request: HttpRequest) -> HttpResponse:
    organization = referring_organization(request)
    form = RegisterPatientForm(request.POST or None, organization=organization)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        duplicates = list(
            Patient.objects.for_organization(organization).same_person_as(
                data["given_name"], data["family_name"], data["birth_date"]
            )
        )
        if not duplicates or data["confirm_new_person"]:
            patient = form.save(commit=False)
            patient.organization = organization
            patient.registered_by = request.user
            patient.save()
            messages.success(request, _("%(name)s is registered.") % {"name": patient.full_name})
            return redirect(patient)
    if not duplicates:
        # The confirmation only makes sense next to the list of possible duplicates.
        del form.fields["confirm_new_person"]
    return TemplateResponse(
        request, "patients/register.html", {"form": form, "duplicates": duplicates}
    )


@require_http_methods(["GET", "POST"])
@referrer_required
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_or_404(request, pk)
    form = PatientForm(request.POST or None, instance=patient, organization=patient.organization)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Changes saved."))
        return redirect(patient)
    return TemplateResponse(request, "patients/edit.html", {"form": form, "patient": patient})


@dataclass
class TimelineEntry:
    when: datetime
    kind: str
    text: str
    url: str = ""
    detail: str = ""


def timeline(patient: Patient) -> list[TimelineEntry]:
    """Screenings, needs and referrals of a patient, newest first."""
    entries = []
    for screening in patient.screenings.all():
        title = screening.title
        if screening.is_completed:
            entries.append(
                TimelineEntry(
                    screening.completed_at,
                    "screening",
                    _("Screening completed"),
                    screening.get_absolute_url(),
                    title,
                )
            )
        else:
            entries.append(
                TimelineEntry(
                    screening.started_at,
                    "screening",
                    _("Screening started"),
                    screening.get_absolute_url(),
                    title,
                )
            )
    for need in patient.needs.all():
        how = _("Found by screening") if need.screening_id else _("Added in conversation")
        entries.append(
            TimelineEntry(need.found_at, "need", _("Need: %(name)s") % {"name": need.name}, "", how)
        )
        if need.resolved_at:
            entries.append(
                TimelineEntry(
                    need.resolved_at,
                    "need",
                    _("Need resolved: %(name)s") % {"name": need.name},
                    "",
                    need.resolution_note,
                )
            )
    if apps.is_installed("referrals"):
        for referral in patient.referrals.select_related("service"):
            entries.append(
                TimelineEntry(
                    referral.created_at,
                    "referral",
                    _("Referral to %(service)s") % {"service": referral.service.name},
                    _referral_url(referral),
                    referral.get_status_display(),
                )
            )
    return sorted(entries, key=lambda e: e.when, reverse=True)


def _referral_url(referral) -> str:
    try:
        return reverse("referrals:detail", args=[referral.pk])
    except NoReverseMatch:
        return ""


@require_GET
@referrer_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_or_404(request, pk)
    needs = list(patient.needs.select_related("screening"))
    referrals = _referrals_of(patient)
    active = [n for n in needs if n.is_active]
    for need in active:
        need.reported = _reported_outcome(need, referrals)
    return TemplateResponse(
        request,
        "patients/detail.html",
        {
            "patient": patient,
            "screenings": patient.screenings.all(),
            "active_needs": active,
            "resolved_needs": [n for n in needs if not n.is_active],
            "timeline": timeline(patient),
            "add_need_form": AddNeedForm(patient=patient),
            "resolve_form": ResolveNeedForm(),
            "referrals": referrals,
            "consents": list(patient.consents.select_related("organization", "recorded_by")),
        },
    )


def _reported_outcome(need, referrals: list):
    """The latest referral for this need that closed with it met, or partly met (or None).

    The clinic decides whether the need is resolved; the page shows what the service reported
    and offers to resolve it with that as the note.
    """
    if not referrals:
        return None
    from referrals.models import Outcome, Status

    return next(
        (
            r
            for r in sorted(referrals, key=lambda r: r.closed_at or r.created_at, reverse=True)
            if r.status == Status.COMPLETED
            and r.need_category == need.category
            and r.outcome in (Outcome.MET, Outcome.PARTLY_MET)
            and r.created_at >= need.found_at
        ),
        None,
    )


def _referrals_of(patient: Patient) -> list:
    if not apps.is_installed("referrals"):
        return []
    return list(
        patient.referrals.select_related("service", "receiving_organization").order_by(
            "-created_at"
        )
    )
