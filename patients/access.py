"""Who may work with patients: referrers (and admins) of an organization that refers."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.models import Role
from accounts.scoping import current_organization, get_in_current_org_or_404, role_required
from directory.models import Organization
from patients.models import Patient

referrer_required: Callable = role_required(Role.REFERRER, Role.ORG_ADMIN)


def referring_organization(request: HttpRequest) -> Organization:
    """The current organization, which must be one that refers people (else 403)."""
    organization = current_organization(request)
    if not organization.refers:
        raise PermissionDenied
    return organization


def get_patient_or_404(request: HttpRequest, pk: int) -> Patient:
    """A patient of the current (referring) organization; anyone else's is a 404."""
    referring_organization(request)
    return get_in_current_org_or_404(Patient.objects.all(), request, pk=pk)
