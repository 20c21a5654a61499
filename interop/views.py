"""The organization admin's pages: the EHR connection, what is waiting for it, API clients."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.scoping import current_organization, get_in_current_org_or_404, org_admin_required
from interop import outbox
from interop.client import SENT_TYPES, check_connection
from interop.forms import ApiClientForm, EhrConnectionForm
from interop.models import ApiClient, EhrConnection, OutboxMessage

OUTBOX_PAGE = 200


def _connection_or_404(request: HttpRequest, pk: int) -> EhrConnection:
    return get_in_current_org_or_404(EhrConnection.objects.all(), request, pk=pk)


def _message_or_404(request: HttpRequest, pk: int) -> OutboxMessage:
    return get_in_current_org_or_404(
        OutboxMessage.objects.select_related("connection"),
        request,
        field="connection__organization",
        pk=pk,
    )


def _connection_page(request, form, connection, report=None, status=200) -> TemplateResponse:
    template = "interop/connection.html"
    if report is not None and request.htmx:
        template += "#report"
    return TemplateResponse(
        request,
        template,
        {
            "form": form,
            "connection": connection,
            "report": report,
            "sent_types": SENT_TYPES,
            "rows": _report_rows(report) if report else [],
        },
        status=status,
    )


def _report_rows(report) -> list[tuple[str, bool, bool, bool]]:
    return [(t, *report.supports(t)) for t in SENT_TYPES]


@require_http_methods(["GET", "POST"])
@org_admin_required
def connection(request: HttpRequest) -> HttpResponse:
    """Set up (or change) the current organization's EHR connection."""
    organization = current_organization(request)
    instance = EhrConnection.objects.filter(organization=organization).first()
    form = EhrConnectionForm(
        request.POST or None, instance=instance or EhrConnection(organization=organization)
    )
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("The EHR connection is saved. Test it to see what works."))
        return redirect("interop:connection")
    return _connection_page(request, form, instance, status=400 if form.errors else 200)


@require_POST
@vary_on_headers("HX-Request")
@org_admin_required
def test_connection(request: HttpRequest, pk: int) -> HttpResponse:
    """Read the EHR's CapabilityStatement and say plainly what works."""
    connection = _connection_or_404(request, pk)
    report = check_connection(connection)
    return _connection_page(request, EhrConnectionForm(instance=connection), connection, report)


@require_GET
@org_admin_required
def outbox_list(request: HttpRequest) -> HttpResponse:
    """Everything waiting for the EHR or refused by it, oldest first."""
    organization = current_organization(request)
    connection = EhrConnection.objects.filter(organization=organization).first()
    stuck_before = OutboxMessage.objects.filter(
        connection=OuterRef("connection"),
        aggregate=OuterRef("aggregate"),
        sequence__lt=OuterRef("sequence"),
        state__in=[OutboxMessage.State.FAILED, OutboxMessage.State.REJECTED],
    )
    waiting = (
        OutboxMessage.objects.for_organization(organization)
        .waiting_or_failed()
        .annotate(held=Exists(stuck_before))
        .select_related("connection")
        .defer("payload")
        .order_by("pk")
    )
    return TemplateResponse(
        request,
        "interop/outbox.html",
        {
            "connection": connection,
            "rows": list(waiting[:OUTBOX_PAGE]),
            "more": max(waiting.count() - OUTBOX_PAGE, 0),
            "retryable": waiting.filter(
                state__in=[OutboxMessage.State.FAILED, OutboxMessage.State.REJECTED]
            ).exists(),
            "sent_count": OutboxMessage.objects.for_organization(organization)
            .filter(state=OutboxMessage.State.SENT)
            .count(),
        },
    )


@require_POST
@org_admin_required
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    message = _message_or_404(request, pk)
    if outbox.retry(message):
        messages.success(request, _("It will be sent again shortly."))
    else:
        messages.info(request, _("That change is not failed or rejected; nothing to retry."))
    return redirect("interop:outbox")


@require_POST
@org_admin_required
def retry_all(request: HttpRequest) -> HttpResponse:
    connection = EhrConnection.objects.filter(organization=current_organization(request)).first()
    count = outbox.retry_all(connection) if connection else 0
    if count:
        messages.success(
            request,
            ngettext(
                "%(count)s change will be sent again shortly.",
                "%(count)s changes will be sent again shortly.",
                count,
            )
            % {"count": count},
        )
    else:
        messages.info(request, _("Nothing is failed or rejected; nothing to retry."))
    return redirect("interop:outbox")


@require_http_methods(["GET", "POST"])
@org_admin_required
def api_clients(request: HttpRequest) -> HttpResponse:
    """Systems that may call the portal's FHIR API for this organization, and new tokens."""
    organization = current_organization(request)
    form = ApiClientForm(request.POST or None)
    new_token = ""
    if request.method == "POST" and form.is_valid():
        _client, new_token = ApiClient.issue(
            organization, form.cleaned_data["name"], by=request.user
        )
        form = ApiClientForm()
    return TemplateResponse(
        request,
        "interop/api_clients.html",
        {
            "form": form,
            "new_token": new_token,
            "clients": ApiClient.objects.for_organization(organization),
        },
        status=400 if form.errors else 200,
    )


@require_POST
@org_admin_required
def revoke_api_client(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_in_current_org_or_404(ApiClient.objects.all(), request, pk=pk)
    client.revoke()
    messages.success(request, _("%(name)s can no longer use the FHIR API.") % {"name": client.name})
    return redirect("interop:api_clients")
