from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.models import Role
from accounts.scoping import current_membership, current_organization, role_required
from referrals import handoff as referral_handoff
from referrals.forms import (
    CONSENT_LONGEST,
    ConsentForm,
    EmailPreferenceForm,
    MessageForm,
    OutcomeForm,
    ReasonForm,
    ReferralForm,
    StepForm,
)
from referrals.models import EmailPreference, Notification, ReasonCode, Referral
from referrals.notify import publish_unread_count
from referrals.transitions import (
    AWAITING_RESPONSE,
    TRANSITIONS,
    Side,
    Status,
    TransitionError,
    check,
)

REFERRING_ROLES = (Role.REFERRER, Role.ORG_ADMIN)
RECEIVING_ROLES = (Role.CBO_STAFF, Role.ORG_ADMIN)

# Lazy labels: this runs once, at import, in no request's language. A tab names the
# referrals it lists (Spanish: "Nuevos", plural), not one referral's status.
INBOX_TABS = {  # tab: (label, the statuses it shows; None: overdue, computed from due dates)
    "new": (pgettext_lazy("inbox tab", "New"), (Status.REQUESTED, Status.RECEIVED)),
    "active": (
        pgettext_lazy("inbox tab", "In progress"),
        (Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD),
    ),
    "overdue": (pgettext_lazy("inbox tab", "Overdue"), None),
    "closed": (
        pgettext_lazy("inbox tab", "Closed"),
        (Status.COMPLETED, Status.REJECTED, Status.CANCELLED, Status.FAILED),
    ),
}


PAGE_SIZE = 25


class _Pager:
    """Pages of PAGE_SIZE rows for a list whose total is known; ?page=N (a bad N is page 1)."""

    def __init__(self, request: HttpRequest, total: int):
        self.total = total
        self.num_pages = max(1, -(-total // PAGE_SIZE))
        raw = request.GET.get("page", "1")
        number = int(raw) if raw.isdigit() else 1
        self.number = min(max(1, number), self.num_pages)
        self.offset = (self.number - 1) * PAGE_SIZE
        params = request.GET.copy()
        params.pop("page", None)
        self.base_query = params.urlencode()

    def url(self, number: int) -> str:
        return f"?{self.base_query}&page={number}" if self.base_query else f"?page={number}"

    @property
    def previous_url(self) -> str:
        return self.url(self.number - 1) if self.number > 1 else ""

    @property
    def next_url(self) -> str:
        return self.url(self.number + 1) if self.number < self.num_pages else ""


def _referrals_for_current_org(request: HttpRequest):
    """Referrals the current organization sent, or received (never another's drafts)."""
    organization = current_organization(request)
    return Referral.objects.filter(
        Q(referring_organization=organization)
        | (Q(receiving_organization=organization) & ~Q(status=Status.DRAFT))
    )


def _get_referral_for_user(request: HttpRequest, pk: int, *, related: bool = True) -> Referral:
    """The referral, scoped to the current organization; 404 for anyone else.

    ``related=False`` for views that only act on it and redirect: loading the six related
    rows costs more (planning and building the join) than the rest of such a request.
    """
    qs = _referrals_for_current_org(request)
    if related:
        qs = qs.select_related(
            "patient",
            "service",
            "receiving_organization",
            "referring_organization",
            "referred_by",
            "consent",
        )
    try:
        return qs.get(pk=pk)
    except Referral.DoesNotExist:
        raise Http404 from None


def _side(request: HttpRequest, referral: Referral) -> str | None:
    """The side the user acts for on this referral, if their role may act for it; else None.

    Object views answer 404 to everyone else, whatever their role: a referral another
    organization cannot act on does not exist for them.
    """
    membership = current_membership(request)
    side = referral.side_of(request.user, membership.organization if membership else None)
    roles = REFERRING_ROLES if side == Side.REFERRING else RECEIVING_ROLES
    return side if membership and membership.role in roles else None


def _with_list_data(qs):
    return qs.select_related(
        "patient", "service", "receiving_organization", "referring_organization"
    )


@require_GET
@role_required(*REFERRING_ROLES)
@vary_on_headers("HX-Request")
def referral_list(request: HttpRequest) -> HttpResponse:
    organization = current_organization(request)
    qs = Referral.objects.sent_by(organization)
    filters = {
        "status": request.GET.get("status", ""),
        "need": request.GET.get("need", ""),
        "to": request.GET.get("to", ""),
        "mine": request.GET.get("mine", ""),
        "overdue": request.GET.get("overdue", ""),
    }
    if filters["status"] in Status.values:
        qs = qs.filter(status=filters["status"])
    if filters["need"]:
        qs = qs.filter(need_category=filters["need"])
    if filters["to"].isdigit():
        qs = qs.filter(receiving_organization_id=int(filters["to"]))
    if filters["mine"]:
        qs = qs.filter(referred_by=request.user)
    if filters["overdue"]:
        qs = qs.overdue()
    pager = _Pager(request, total=qs.count())
    page = list(
        _with_list_data(qs).order_by("-updated_at", "-pk")[pager.offset : pager.offset + PAGE_SIZE]
    )
    receivers = (
        Referral.objects.sent_by(organization)
        .values_list("receiving_organization_id", "receiving_organization__name")
        .distinct()
        .order_by("receiving_organization__name")
    )
    template = "referrals/list.html#list" if request.htmx else "referrals/list.html"
    return TemplateResponse(
        request,
        template,
        {
            "referrals": page,
            "pager": pager,
            "filters": filters,
            "statuses": Status.choices,
            "receivers": list(receivers),
            "need_names": referral_handoff.need_names(),
            "now": timezone.now(),
        },
    )


@require_GET
@role_required(*RECEIVING_ROLES)
@vary_on_headers("HX-Request")
def inbox(request: HttpRequest) -> HttpResponse:
    organization = current_organization(request)
    received = Referral.objects.received_by(organization)
    now = timezone.now()
    tab = request.GET.get("tab", "new")
    if tab not in INBOX_TABS:
        tab = "new"
    by_status = received.status_counts(now)  # one grouped query for every tab's count
    counts = {
        name: sum(by_status.get(status, (0, 0))[0] for status in statuses)
        for name, (_label, statuses) in INBOX_TABS.items()
        if statuses is not None
    }
    counts["overdue"] = sum(by_status.get(status, (0, 0))[1] for status in AWAITING_RESPONSE)
    statuses = INBOX_TABS[tab][1]
    qs = received.overdue(now) if statuses is None else received.filter(status__in=statuses)
    ordered = _with_list_data(qs).order_by(
        "due_at" if tab in ("new", "overdue") else "-updated_at", "-pk"
    )
    # The tab's count is already known: page without Paginator's extra COUNT query.
    pager = _Pager(request, total=counts[tab])
    rows = list(ordered[pager.offset : pager.offset + PAGE_SIZE])
    unread = referral_handoff.unread_counts(request.user, organization, rows)
    for row in rows:
        row.unread = unread.get(row.pk, 0)
    template = "referrals/inbox.html#inbox" if request.htmx else "referrals/inbox.html"
    return TemplateResponse(
        request,
        template,
        {
            "rows": rows,
            "tab": tab,
            # A response is awaited only in these tabs; elsewhere a due date is history.
            "shows_due": tab in ("new", "overdue"),
            "tabs": [(name, label, counts[name]) for name, (label, _c) in INBOX_TABS.items()],
            "pager": pager,
            "now": now,
        },
    )


@require_GET
@role_required()
@vary_on_headers("HX-Request")
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    referral = _get_referral_for_user(request, pk)
    side = _side(request, referral)
    if side is None:
        raise Http404
    organization = current_organization(request)
    if side == Side.RECEIVING and not request.htmx:
        referral_handoff.record_view(referral, request.user, organization)
        if referral.status == Status.REQUESTED:
            # Opening a new referral tells the referrer it was seen.
            try:
                referral.apply("receive", by=request.user, organization=organization)
            except TransitionError:
                referral.refresh_from_db()  # someone else opened it a moment earlier
    referral_handoff.mark_read(referral, request.user)
    context = referral_handoff.detail_context(
        referral, side, request.user, full_timeline=request.GET.get("timeline") == "all"
    )
    template = "referrals/detail.html"
    if request.htmx:
        part = request.GET.get("part", "live")
        if part not in ("live", "status", "timeline", "messages"):
            part = "live"
        template = f"referrals/detail.html#{part}"
    return TemplateResponse(request, template, context)


def _back_to(referral: Referral) -> HttpResponse:
    return redirect("referrals:detail", pk=referral.pk)


def _page_with_errors(
    request: HttpRequest, referral: Referral, bound: dict, *, partial: str = ""
) -> TemplateResponse:
    """The referral page again (or one ``#partial`` of it), with each form's errors at its
    fields and what was typed still there; nothing was changed."""
    context = referral_handoff.detail_context(
        referral, _side(request, referral), request.user, bound=bound
    )
    return TemplateResponse(request, f"referrals/detail.html{partial}", context)


@require_POST
@role_required()
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    referral = _get_referral_for_user(request, pk, related=False)
    if action not in TRANSITIONS or _side(request, referral) is None:
        raise Http404
    transition = TRANSITIONS[action]
    organization = current_organization(request)
    try:
        # Not allowed now (the other side acted first, say): say so, before any form error.
        check(action, referral.status, referral.side_of(request.user, organization))
    except TransitionError as error:
        messages.error(request, str(error))
        return _back_to(referral)
    form = None
    if transition.needs_reason:
        form = ReasonForm(request.POST, transition=action)
    elif transition.needs_outcome:
        form = OutcomeForm(request.POST)
    if form is not None and not form.is_valid():
        return _page_with_errors(request, referral, {action: form})
    kwargs = form.cleaned_data if form is not None else {}
    try:
        referral.apply(action, by=request.user, organization=organization, **kwargs)
    except TransitionError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("Done: the referral is now “%(status)s”.")
            % {"status": referral.get_status_display()},
        )
    return _back_to(referral)


@require_POST
@role_required()
@vary_on_headers("HX-Request")
def post_message(request: HttpRequest, pk: int) -> HttpResponse:
    referral = _get_referral_for_user(request, pk)
    if _side(request, referral) is None:
        raise Http404
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            referral.post_message(
                by=request.user,
                organization=current_organization(request),
                body=form.cleaned_data["body"],
            )
        except TransitionError as error:
            form.add_error("body", str(error))
    if form.errors:
        # The error belongs at the message box, now: shown with what was typed, nothing stored.
        return _page_with_errors(
            request, referral, {"message": form}, partial="#messages" if request.htmx else ""
        )
    if request.htmx:
        referral_handoff.mark_read(referral, request.user)
        context = referral_handoff.detail_context(referral, _side(request, referral), request.user)
        return TemplateResponse(request, "referrals/detail.html#messages", context)
    return redirect(f"{reverse('referrals:detail', args=[referral.pk])}#messages")


@require_POST
@role_required()
def set_step(request: HttpRequest, pk: int) -> HttpResponse:
    referral = _get_referral_for_user(request, pk, related=False)
    if _side(request, referral) != Side.RECEIVING:
        raise Http404
    form = StepForm(request.POST)
    if not form.is_valid():
        return _page_with_errors(request, referral, {"step": form})
    try:
        referral.set_step(
            by=request.user,
            organization=current_organization(request),
            step=form.cleaned_data["step"],
            intake_at=form.cleaned_data["intake_at"],
        )
    except TransitionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Step updated."))
    return _back_to(referral)


@require_http_methods(["GET", "POST"])
@role_required()
def notifications(request: HttpRequest) -> HttpResponse:
    mine = Notification.objects.filter(user=request.user).select_related("referral")
    if request.method == "POST":
        mine.unread().update(read_at=timezone.now())
        publish_unread_count(request.user.pk)
        messages.success(request, _("All notifications are marked as read."))
        return redirect("referrals:notifications")
    return TemplateResponse(
        request, "referrals/notifications.html", {"notifications": list(mine[:100])}
    )


def _audit_rows(request: HttpRequest):
    from accounts.models import AuditEvent

    qs = AuditEvent.objects.for_organization(current_organization(request)).select_related(
        "actor", "actor_organization"
    )
    actor = request.GET.get("actor", "").strip()
    action = request.GET.get("action", "").strip()
    if actor:
        qs = qs.filter(Q(actor__email__icontains=actor) | Q(actor__full_name__icontains=actor))
    if action:
        qs = qs.filter(action=action)
    return qs, {"actor": actor, "action": action}


@require_GET
@role_required(Role.ORG_ADMIN)
def audit_log(request: HttpRequest) -> HttpResponse:
    from accounts.models import AuditEvent

    qs, filters = _audit_rows(request)
    return TemplateResponse(
        request,
        "referrals/audit.html",
        {"rows": list(qs[:500]), "filters": filters, "actions": AuditEvent.Action.choices},
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@role_required(Role.ORG_ADMIN)
def audit_csv(request: HttpRequest) -> StreamingHttpResponse:
    qs, _filters = _audit_rows(request)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["when", "who", "their organization", "action", "what", "detail"])
        for row in qs.iterator(chunk_size=1000):
            yield writer.writerow(
                [
                    row.at.isoformat(),
                    row.actor.email if row.actor else "",
                    row.actor_organization.name if row.actor_organization else "",
                    row.action,
                    f"{row.object_type} {row.object_id}",
                    row.detail,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="handoff-audit.csv"'
    return response


# --- starting a referral ------------------------------------------------------------------


def _need_choices(patient) -> list[tuple[str, str]]:
    """The patient's active needs first, then every other SDOH category."""
    from screening.models import Need

    names = referral_handoff.need_names()
    active = list(
        Need.objects.filter(patient=patient).active().values_list("category", flat=True).distinct()
    )
    first = [(code, names.get(code, code)) for code in active]
    rest = [(code, name) for code, name in names.items() if code not in active]
    return [("", _("Choose a need")), *first, *rest]


def _referral_form(
    patient, data=None, initial=None, *, service=None, sending=False
) -> ReferralForm:
    from directory.languages import LANGUAGES
    from directory.models import Service
    from patients.models import Patient

    return ReferralForm(
        data,
        initial=initial,
        need_choices=_need_choices(patient),
        contact_choices=Patient.ContactMethod.choices,
        language_choices=[(code, str(name)) for code, name in LANGUAGES.items()],
        service_not_accepting=service is not None
        and service.capacity == Service.Capacity.NOT_ACCEPTING,
        sending=sending,
    )


def _consent_form(data=None, initial=None) -> ConsentForm:
    from patients.models import Consent

    return ConsentForm(
        data,
        initial=initial,
        method_choices=Consent.Method.choices,
        electronic_value=Consent.Method.ELECTRONIC,
    )


def _consent_initial() -> dict:
    """Consent lasts a year at most, and is offered that long; contact details and needs are
    shared unless unticked."""
    return {
        "expires_on": timezone.localdate() + CONSENT_LONGEST,
        "share_contact": True,
        "share_needs": True,
    }


def _active_consent(patient, organization):
    from patients.models import Consent

    return Consent.objects.filter(patient=patient, organization=organization).active().first()


def _record_consent(form: ConsentForm, *, patient, organization, request):
    from accounts.models import AuditEvent
    from patients.models import Consent
    from patients.signals import consent_changed

    data = form.cleaned_data
    consent = Consent.objects.create(
        patient=patient,
        organization=organization,
        method=data["method"],
        signature=(data.get("signature") or "").strip(),
        share_contact=data["share_contact"],
        share_needs=data["share_needs"],
        share_screening=data["share_screening"],
        recorded_by=request.user,
        given_at=timezone.now(),
        expires_on=data["expires_on"],
    )
    AuditEvent.record(
        organization=patient.organization,
        actor=request.user,
        actor_organization=current_organization(request),
        action=AuditEvent.Action.CONSENT,
        obj=consent,
        detail=f"consent to share with {organization.name}",
    )
    consent_changed.send(sender=Consent, consent=consent)
    return consent


def _pick_patient(request: HttpRequest, service) -> HttpResponse:
    """A referral started from the directory: first choose whom it is for."""
    from patients.models import Patient

    query = request.GET.get("q", "").strip()
    patients = Patient.objects.for_organization(current_organization(request))
    if query:
        patients = patients.search(query)
    return TemplateResponse(
        request,
        "referrals/pick_patient.html",
        {
            "service": service,
            "patients": list(patients[:50]),
            "query": query,
            "need": request.GET.get("need", ""),
        },
    )


@require_http_methods(["GET", "POST"])
@role_required(*REFERRING_ROLES)
def new(request: HttpRequest) -> HttpResponse:
    """Start (or finish) a referral: the warm handoff and the person's consent, on one page.

    Pre-filled from where it started: a screening result (patient, need, service), a
    directory result (service; then choose the patient) or a patient page (patient, need).
    """
    from directory.models import Service
    from patients.access import get_patient_or_404, referring_organization

    organization = referring_organization(request)
    params = request.POST if request.method == "POST" else request.GET
    draft = None
    if params.get("draft", "").isdigit():
        draft = get_object_or_404(
            Referral.objects.sent_by(organization).filter(status=Status.DRAFT), pk=params["draft"]
        )
    service_id = draft.service_id if draft else params.get("service", "")
    service = None
    if str(service_id).isdigit():
        service = Service.objects.select_related("organization").filter(pk=service_id).first()
    if service is None:
        if params.get("patient", "").isdigit():
            patient = get_patient_or_404(request, int(params["patient"]))
            need = params.get("need", "")
            query = {"patient": patient.pk}
            if need:
                query["need"] = need
            if patient.zip_code:
                query["zip"] = patient.zip_code
            url = f"{reverse('directory:search')}?{urlencode(query)}"
            messages.info(
                request, _("Choose the service to refer %(name)s to.") % {"name": patient}
            )
            return redirect(url)
        raise Http404
    if not service.accepts_referrals:
        messages.error(request, _("This service does not take referrals through Handoff."))
        return redirect("directory:service", hsds_id=service.hsds_id)
    if draft:
        patient = draft.patient
    elif params.get("patient", "").isdigit():
        patient = get_patient_or_404(request, int(params["patient"]))
    else:
        return _pick_patient(request, service)

    receiving = service.organization
    on_file = _active_consent(patient, receiving)
    need = params.get("need", "")
    if draft:
        initial = {
            "need_category": draft.need_category,
            "priority": draft.priority,
            "note": draft.note,
            "contact_method": draft.contact_method,
            "contact_times": draft.contact_times,
            "language": draft.language,
            "interpreter_needed": draft.interpreter_needed,
            "do_not_contact": draft.do_not_contact,
        }
    else:
        initial = {
            "need_category": need,
            "contact_method": patient.contact_method,
            "contact_times": patient.contact_times,
            "language": patient.preferred_language,
            "interpreter_needed": patient.interpreter_needed,
        }
    sending = request.POST.get("send") is not None
    form = _referral_form(
        patient, request.POST or None, initial=initial, service=service, sending=sending
    )
    consent_form = _consent_form(request.POST or None, initial=_consent_initial())
    use_on_file = on_file is not None
    if request.method == "POST":
        use_on_file = on_file is not None and request.POST.get("use_consent") == str(on_file.pk)
        # Consent is needed to send; a draft may be saved without it, or with one being
        # recorded (its box ticked). A consent nobody is recording is not checked, and
        # shows what was typed without errors.
        recording = not use_on_file and bool(sending or request.POST.get("confirmed"))
        consent_ok = not recording or consent_form.is_valid()
        if not recording:
            consent_form = _consent_form(
                initial={name: consent_form[name].value() for name in consent_form.fields}
            )
        if form.is_valid() and consent_ok:
            referral = _save_referral(
                request,
                form=form,
                consent_form=consent_form if recording else None,
                consent=on_file if use_on_file else None,
                patient=patient,
                service=service,
                draft=draft,
                send=sending,
            )
            if referral is not None:
                return redirect("referrals:detail", pk=referral.pk)
        else:
            messages.error(request, _("Please correct the errors below."))
    return TemplateResponse(
        request,
        "referrals/new.html",
        {
            "form": form,
            "consent_form": consent_form,
            "patient": patient,
            "service": service,
            "receiving": receiving,
            "on_file": on_file,
            "use_on_file": use_on_file,
            "draft": draft,
            "need": need,
        },
    )


def _save_referral(request, *, form, consent_form, consent, patient, service, draft, send):
    """Save the draft (and the consent) and, when asked, send it — all or nothing."""
    from screening.models import Need

    data = form.cleaned_data
    organization = current_organization(request)
    try:
        with transaction.atomic():
            if consent_form is not None:
                consent = _record_consent(
                    consent_form,
                    patient=patient,
                    organization=service.organization,
                    request=request,
                )
            referral = draft or Referral(
                patient=patient,
                referring_organization=organization,
                referred_by=request.user,
                service=service,
                receiving_organization=service.organization,
            )
            for field in (
                "need_category",
                "priority",
                "note",
                "contact_method",
                "contact_times",
                "language",
                "interpreter_needed",
                "do_not_contact",
            ):
                setattr(referral, field, data[field])
            if consent is not None:
                referral.consent = consent
            referral.save()
            referral.needs.set(
                Need.objects.filter(patient=patient, category=data["need_category"]).active()
            )
            if send:
                # A service that said it was not accepting: the sender ticked that they asked it.
                checked = (
                    {"checked_with_service": True} if data.get("checked_with_service") else None
                )
                referral.apply("send", by=request.user, organization=organization, data=checked)
    except TransitionError as error:
        messages.error(request, str(error))
        return None
    if send:
        messages.success(
            request,
            _("Sent to %(org)s. You will see here when they open it.")
            % {"org": service.organization.name},
        )
    else:
        messages.success(request, _("Draft saved. It has not been sent."))
    return referral


# --- re-routing ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required()
def reroute(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a declined, failed or overdue referral to a similar service, in one step."""
    from directory.models import Service
    from directory.search import services_for_need

    referral = _get_referral_for_user(request, pk)
    if _side(request, referral) != Side.REFERRING:
        raise Http404
    if not referral.can_be_rerouted():
        messages.error(request, _("This referral cannot be sent elsewhere now."))
        return _back_to(referral)
    patient = referral.patient
    # Sent on at once, without the call a full service needs first (new referrals ask for a
    # tick): only services taking new clients, the waitlisted ones saying so.
    suggestions = [
        s
        for s in services_for_need(
            referral.need_category,
            zip_code=patient.zip_code or None,
            language=referral.language or None,
            limit=8,
        )
        if s.pk != referral.service_id
        and s.accepts_referrals
        and s.capacity != Service.Capacity.NOT_ACCEPTING
    ]
    old_consent = referral.consent
    initial = _consent_initial()
    if old_consent:
        initial.update(
            share_contact=old_consent.share_contact,
            share_needs=old_consent.share_needs,
            share_screening=old_consent.share_screening,
        )
    consent_form = _consent_form(request.POST or None, initial=initial)
    error = ""
    if request.method == "POST":
        service = (
            Service.objects.filter(
                pk=request.POST.get("service", "")
                if request.POST.get("service", "").isdigit()
                else None,
                accepts_referrals=True,
            )
            .select_related("organization")
            .first()
        )
        if service is None or service.pk == referral.service_id:
            error = _("Choose one of the services.")
        elif service.capacity == Service.Capacity.NOT_ACCEPTING:
            error = _("%(service)s is not taking new clients now. Choose another service.") % {
                "service": service.name
            }
        elif consent_form.is_valid() or _active_consent(patient, service.organization):
            new_referral = _reroute(request, referral, service, consent_form)
            if new_referral is not None:
                messages.success(
                    request,
                    _("Sent to %(org)s instead.") % {"org": service.organization.name},
                )
                return redirect("referrals:detail", pk=new_referral.pk)
        else:
            error = _("Record the person's consent to share with the new organization.")
    return TemplateResponse(
        request,
        "referrals/reroute.html",
        {
            "referral": referral,
            "suggestions": suggestions,
            "consent_form": consent_form,
            "error": error,
            "need_name": referral.need_label,
        },
    )


def _reroute(request, old: Referral, service, consent_form) -> Referral | None:
    organization = current_organization(request)
    try:
        with transaction.atomic():
            if old.is_open:
                # Overdue and never answered: withdraw it from the first organization. The
                # reason is stored, read by both sides and sent to the EHR: one language,
                # whoever sent it on (as the FHIR mapping does for its texts).
                with translation.override(settings.LANGUAGE_CODE):
                    reason_text = _("Sent to %(service)s instead.") % {"service": service.name}
                old.apply(
                    "cancel",
                    by=request.user,
                    organization=organization,
                    reason=ReasonCode.NO_RESPONSE,
                    reason_text=reason_text,
                )
            consent = _active_consent(old.patient, service.organization)
            if consent is None:
                consent = _record_consent(
                    consent_form,
                    patient=old.patient,
                    organization=service.organization,
                    request=request,
                )
            new_referral = Referral.objects.create(
                patient=old.patient,
                need_category=old.need_category,
                referring_organization=organization,
                referred_by=request.user,
                service=service,
                receiving_organization=service.organization,
                priority=old.priority,
                note=old.note,
                contact_method=old.contact_method,
                contact_times=old.contact_times,
                language=old.language,
                interpreter_needed=old.interpreter_needed,
                do_not_contact=old.do_not_contact,
                consent=consent,
                rerouted_from=old,
            )
            new_referral.needs.set(old.needs.all())
            new_referral.apply("send", by=request.user, organization=organization)
    except TransitionError as error:
        messages.error(request, str(error))
        return None
    return new_referral


# --- consent withdrawal, email settings -----------------------------------------------------


@require_POST
@role_required(*REFERRING_ROLES)
def withdraw_consent(request: HttpRequest, pk: int) -> HttpResponse:
    from patients.access import referring_organization
    from patients.models import Consent

    organization = referring_organization(request)
    consent = get_object_or_404(
        Consent.objects.for_organization(organization).select_related("patient", "organization"),
        pk=pk,
    )
    if consent.withdrawn_at is not None:
        messages.info(request, _("This consent was already withdrawn."))
    else:
        cancelled = consent.withdraw(by=request.user, organization=organization)
        messages.success(
            request,
            ngettext(
                "Consent withdrawn. %(org)s can no longer see the shared details; "
                "%(n)d open referral was cancelled.",
                "Consent withdrawn. %(org)s can no longer see the shared details; "
                "%(n)d open referrals were cancelled.",
                cancelled,
            )
            % {"org": consent.organization.name, "n": cancelled},
        )
    return redirect(consent.patient)


@require_http_methods(["GET", "POST"])
@role_required()
def email_settings(request: HttpRequest) -> HttpResponse:
    preference, _created = EmailPreference.objects.get_or_create(user=request.user)
    form = EmailPreferenceForm(request.POST or None, instance=preference)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your email settings are saved."))
        return redirect("referrals:notifications")
    return TemplateResponse(request, "referrals/email_settings.html", {"form": form})
