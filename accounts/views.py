from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import AddMemberForm, ChangeRoleForm, SwitchOrganizationForm
from accounts.members import add_member, members_of, publish_members_changed
from accounts.models import LastAdminError, Membership, Role
from accounts.scoping import (
    current_organization,
    get_in_current_org_or_404,
    org_admin_required,
    switch_organization,
)


@require_http_methods(["GET", "POST"])
@org_admin_required
def members(request: HttpRequest) -> HttpResponse:
    organization = current_organization(request)
    form = AddMemberForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        membership = add_member(
            request,
            organization,
            email=form.cleaned_data["email"],
            full_name=form.cleaned_data["full_name"],
            role=form.cleaned_data["role"],
        )
        messages.success(
            request,
            _("%(name)s was added. They will get an email to set their password and sign in.")
            % {"name": membership.user.display_name},
        )
        return redirect("accounts:members")
    # The table alone, when a live update has the page fetch it again.
    template = "accounts/members.html"
    if request.htmx and request.GET.get("part") == "table":
        template += "#member-table"
    return TemplateResponse(
        request,
        template,
        {"form": form, "members": members_of(organization), "roles": Role.choices},
        status=400 if form.errors else 200,
    )


def _membership_for_admin(request: HttpRequest, pk: int) -> Membership:
    return get_in_current_org_or_404(
        Membership.objects.select_related("user", "organization"), request, pk=pk
    )


@require_POST
@org_admin_required
def change_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership_for_admin(request, pk)
    form = ChangeRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role from the list."))
    else:
        try:
            membership.change_role(form.cleaned_data["role"])
        except LastAdminError:
            messages.error(
                request, _("An organization needs at least one admin. Add another admin first.")
            )
        else:
            publish_members_changed(membership.organization)
            messages.success(
                request,
                _("%(name)s is now: %(role)s.")
                % {"name": membership.user.display_name, "role": membership.get_role_display()},
            )
    return redirect("accounts:members")


@require_POST
@org_admin_required
def remove_member(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership_for_admin(request, pk)
    try:
        membership.remove()
    except LastAdminError:
        messages.error(
            request, _("An organization needs at least one admin. Add another admin first.")
        )
    else:
        publish_members_changed(membership.organization)
        messages.success(
            request,
            _("%(name)s was removed from %(org)s.")
            % {"name": membership.user.display_name, "org": membership.organization.name},
        )
    return redirect("accounts:members")


@require_POST
@login_required
def switch(request: HttpRequest) -> HttpResponse:
    form = SwitchOrganizationForm(request.POST)
    if form.is_valid():
        membership = switch_organization(request, form.cleaned_data["organization"])
        messages.info(
            request, _("You are now working for %(org)s.") % {"org": membership.organization.name}
        )
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "home"
    return redirect(next_url)
