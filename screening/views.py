from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts.scoping import get_in_current_org_or_404
from patients.access import get_patient_or_404, referrer_required, referring_organization
from patients.forms import PatientSearchForm
from patients.models import Patient
from screening import instrument as instruments
from screening.forms import AddNeedForm, ResolveNeedForm, StartScreeningForm
from screening.instrument import DECLINED, NOT_ASKED, Outcome, Question
from screening.models import Need, Screening, need_name

SUGGESTIONS_PER_NEED = 3


def _get_screening_or_404(request: HttpRequest, pk: int) -> Screening:
    referring_organization(request)
    return get_in_current_org_or_404(
        Screening.objects.select_related("patient"), request, field="patient__organization", pk=pk
    )


def _get_need_or_404(request: HttpRequest, pk: int) -> Need:
    referring_organization(request)
    return get_in_current_org_or_404(
        Need.objects.select_related("patient"), request, field="patient__organization", pk=pk
    )


@require_GET
@referrer_required
def start(request: HttpRequest) -> HttpResponse:
    """Pick a patient to screen (or, with ?patient=, the tool to screen them with)."""
    organization = referring_organization(request)
    patient = None
    if request.GET.get("patient"):
        patient = get_patient_or_404(request, request.GET["patient"])
    search = PatientSearchForm(request.GET if "q" in request.GET else None)
    patients = Patient.objects.none()
    if search.is_valid():
        patients = Patient.objects.for_organization(organization).search(search.cleaned_data["q"])[
            :20
        ]
    return TemplateResponse(
        request,
        "screening/start.html",
        {
            "patient": patient,
            "search": search,
            "patients": patients,
            "form": StartScreeningForm(),
            "in_progress": patient.screenings.filter(status=Screening.Status.IN_PROGRESS)
            if patient
            else [],
        },
    )


@require_POST
@referrer_required
def begin(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = get_patient_or_404(request, patient_pk)
    form = StartScreeningForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a screening tool."))
        return redirect(f"{reverse('screening:start')}?patient={patient.pk}")
    instrument = instruments.get_instrument(form.cleaned_data["instrument"])
    screening = Screening.start(patient, instrument, by=request.user)
    return redirect(screening)


@dataclass
class Choice:
    value: str
    text: str
    checked: bool
    id: str
    skip: bool = False


@dataclass
class QuestionRow:
    question: Question
    text: str
    choices: list[Choice]
    skip_choices: list[Choice]
    error: str = ""
    saved: bool = False

    @property
    def code(self) -> str:
        return self.question.code

    @property
    def input_type(self) -> str:
        return "checkbox" if self.question.multiple else "radio"


@dataclass
class DomainRows:
    title: str
    rows: list[QuestionRow] = field(default_factory=list)


def _row(question: Question, language: str, tokens: list[str], error: str = "") -> QuestionRow:
    prefix = f"q-{question.code}"
    return QuestionRow(
        question=question,
        text=question.text_in(language),
        choices=[
            Choice(a.code, a.text_in(language), a.code in tokens, f"{prefix}-{a.code}")
            for a in question.answers
        ],
        skip_choices=[
            Choice(
                DECLINED, _("Declined to answer"), DECLINED in tokens, f"{prefix}-declined", True
            ),
            Choice(NOT_ASKED, _("Not asked"), NOT_ASKED in tokens, f"{prefix}-not-asked", True),
        ],
        error=error,
    )


def _saved_tokens(screening: Screening) -> dict[str, list[str]]:
    tokens = {}
    for answer in screening.answers.all():
        tokens[answer.question] = (
            list(answer.codes) if answer.status == "answered" else [answer.status]
        )
    return tokens


def _domains(
    screening: Screening, tokens: dict[str, list[str]], errors: dict[str, str]
) -> list[DomainRows]:
    language = screening.language
    return [
        DomainRows(
            d.title_in(language),
            [
                _row(q, language, tokens.get(q.code, []), errors.get(q.code, ""))
                for q in d.questions
            ],
        )
        for d in screening.instrument.domains
    ]


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
@referrer_required
def screen(request: HttpRequest, pk: int) -> HttpResponse:
    """The screening form. htmx posts one question at a time (autosave); a plain POST saves all."""
    screening = _get_screening_or_404(request, pk)
    if screening.is_completed:
        if request.htmx:
            # Finished in another tab: send the whole page to the results, not into a fragment.
            return HttpResponseClientRedirect(screening.get_absolute_url())
        return redirect(screening)
    instrument = screening.instrument
    errors: dict[str, str] = {}
    form_error = ""
    if request.method == "POST" and request.htmx and "question" in request.POST:
        question = instrument.question(request.POST["question"])
        if question is None:
            raise Http404
        tokens = request.POST.getlist(f"q-{question.code}")
        row = _row(question, screening.language, tokens)
        try:
            screening.record(question.code, tokens)
            row.saved = True
        except ValidationError as error:
            row.error = " ".join(error.messages)
        return TemplateResponse(request, "screening/screen.html#status", {"row": row})
    if request.method == "POST":
        submitted = {q.code: request.POST.getlist(f"q-{q.code}") for q in instrument.questions}
        for code, tokens in submitted.items():
            try:
                screening.record(code, tokens)
            except ValidationError as error:
                errors[code] = " ".join(error.messages)
        if not errors and request.POST.get("action") == "finish":
            try:
                screening.complete(by=request.user)
            except ValidationError as error:
                form_error = " ".join(error.messages)
                for question in screening.unaccounted_questions():
                    errors[question.code] = _(
                        "Answer this question or mark it declined or not asked."
                    )
            else:
                messages.success(request, _("Screening completed."))
                return redirect(screening)
        elif not errors:
            messages.success(request, _("Answers saved. You can come back to finish."))
            return redirect(screening)
        tokens = submitted
    else:
        tokens = _saved_tokens(screening)
    return TemplateResponse(
        request,
        "screening/screen.html",
        {
            "screening": screening,
            "patient": screening.patient,
            "instrument": instrument,
            "domains": _domains(screening, tokens, errors),
            "errors": errors,
            "form_error": form_error,
            "languages": [(code, _language_name(code)) for code in instrument.languages],
        },
    )


def _language_name(code: str) -> str:
    # Each language named in itself, so a speaker can find theirs.
    return {"en": "English", "es": "Español"}.get(code, code)


@require_POST
@referrer_required
def switch_language(request: HttpRequest, pk: int) -> HttpResponse:
    screening = _get_screening_or_404(request, pk)
    language = request.POST.get("language", "")
    if language in screening.instrument.languages and not screening.is_completed:
        screening.language = language
        screening.save(update_fields=["language"])
    return redirect(screening)


@dataclass
class NeedResult:
    category: str
    name: str
    summaries: list[str]
    need: Need | None
    services: list = field(default_factory=list)
    is_safety: bool = False


def suggested_services(category: str, patient: Patient) -> list | None:
    """The directory's best services for a need near the patient; None without a directory."""
    try:
        from directory.search import services_for_need
    except ImportError:  # the directory app is optional for screening
        return None
    return services_for_need(
        category,
        zip_code=patient.zip_code or None,
        language=patient.preferred_language or None,
        limit=SUGGESTIONS_PER_NEED,
    )


def need_results(screening: Screening, outcomes: list[Outcome], language: str) -> list[NeedResult]:
    active = {n.category: n for n in screening.patient.needs.active()}
    results: dict[str, NeedResult] = {}
    for outcome in outcomes:
        if not outcome.positive:
            continue
        category = outcome.rule.category
        result = results.get(category)
        if result is None:
            result = results[category] = NeedResult(
                category,
                need_name(category),
                [],
                active.get(category),
                is_safety=outcome.rule.is_safety,
            )
        result.summaries.append(outcome.rule.summary_in(language))
    # Safety first: its message leads the page.
    return sorted(results.values(), key=lambda r: not r.is_safety)


# gettext_lazy by its own name: makemessages finds only the names it knows (gettext_lazy, _).
NOT_SCORED_REASONS = {
    instruments.INCOMPLETE: gettext_lazy("not enough answers to tell"),
    instruments.UNANSWERED: gettext_lazy("not answered"),
}


def _named_changes(changes) -> dict | None:
    if changes is None:
        return None
    return {
        "earlier": changes.earlier,
        "new": [need_name(c) for c in changes.new],
        "continuing": [need_name(c) for c in changes.continuing],
        "no_longer": [need_name(c) for c in changes.no_longer],
        "unknown": [need_name(c) for c in changes.unknown],
    }


@require_GET
@referrer_required
def results(request: HttpRequest, pk: int) -> HttpResponse:
    screening = _get_screening_or_404(request, pk)
    if not screening.is_completed:
        return redirect(screening)
    patient = screening.patient
    language = get_language() or "en"
    outcomes = screening.outcomes()
    needs = need_results(screening, outcomes, language)
    directory_available = True
    for need in needs:
        services = suggested_services(need.category, patient)
        if services is None:
            directory_available = False
            services = []
        need.services = services
    earlier = screening.previous()
    return TemplateResponse(
        request,
        "screening/results.html",
        {
            "screening": screening,
            "patient": patient,
            "instrument": screening.instrument,
            "needs": needs,
            "safety_positive": any(n.is_safety for n in needs),
            "not_scored": [
                (need_name(o.rule.category), NOT_SCORED_REASONS[o.status])
                for o in outcomes
                if o.status in NOT_SCORED_REASONS
            ],
            "directory_available": directory_available,
            "changes": _named_changes(screening.changes_since(earlier)) if earlier else None,
        },
    )


@require_http_methods(["GET", "POST"])
@referrer_required
def add_need(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = get_patient_or_404(request, patient_pk)
    form = AddNeedForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        try:
            need = Need.add(
                patient,
                form.cleaned_data["category"],
                by=request.user,
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            form.add_error("category", error)
        else:
            messages.success(request, _("Need added: %(name)s.") % {"name": need.name})
            return redirect(patient)
    return TemplateResponse(request, "screening/add_need.html", {"form": form, "patient": patient})


@require_http_methods(["GET", "POST"])
@referrer_required
def resolve_need(request: HttpRequest, pk: int) -> HttpResponse:
    """Resolve a need; from a referral that met it (``?referral=``), the note starts from
    the referral's outcome and the referral page is where this goes back to."""
    need = _get_need_or_404(request, pk)
    referral = _referral_for_need(need, request.GET.get("referral", ""))
    initial = {}
    if referral is not None:
        initial["note"] = _("Referral to %(service)s: %(outcome)s. %(provided)s") % {
            "service": referral.service.name,
            "outcome": referral.get_outcome_display(),
            "provided": referral.outcome_provided,
        }
    back_url = (
        reverse("referrals:detail", args=[referral.pk])
        if referral is not None
        else need.patient.get_absolute_url()
    )
    form = ResolveNeedForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            need.resolve(by=request.user, note=form.cleaned_data["note"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Need resolved: %(name)s.") % {"name": need.name})
            return redirect(back_url)
    return TemplateResponse(
        request,
        "screening/resolve_need.html",
        {
            "form": form,
            "need": need,
            "patient": need.patient,
            "referral": referral,
            "back_url": back_url,
        },
    )


def _referral_for_need(need: Need, referral_id: str):
    # Only a referral made for this need (so of its person and organization); else none.
    if not referral_id.isdigit():
        return None
    return need.referrals.select_related("service").filter(pk=int(referral_id)).first()
