from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Role
from accounts.scoping import current_membership, memberships

# The primary navigation by role. An entry appears once its URL exists, so each app's
# issue lights up its own entry by adding the named URL.
REFERRING_NAV = [
    (_("Patients"), "patients:list"),
    (_("Screen"), "screening:start"),
    (_("Directory"), "directory:search"),
    (_("Referrals"), "referrals:list"),
]
RECEIVING_NAV = [
    (_("Inbox"), "referrals:inbox"),
    (_("Services"), "directory:my_services"),
]
ADMIN_NAV = [
    (_("Members"), "accounts:members"),
    (_("Audit log"), "referrals:audit"),
    (_("EHR"), "interop:connection"),
]


def nav_items(current: Membership | None) -> list[tuple[str, str, str]]:
    """(label, url, url_name) for the current role; entries whose URL does not exist are left out."""
    if current is None:
        return []
    organization = current.organization
    entries = []
    if current.role == Role.REFERRER or (current.role == Role.ORG_ADMIN and organization.refers):
        entries += REFERRING_NAV
    if current.role == Role.CBO_STAFF or (current.role == Role.ORG_ADMIN and organization.receives):
        entries += RECEIVING_NAV
    if current.role == Role.ORG_ADMIN:
        entries += ADMIN_NAV
    items = []
    for label, name in entries:
        try:
            items.append((label, reverse(name), name))
        except NoReverseMatch:
            continue
    return items


def membership(request: HttpRequest) -> dict:
    """The current membership, the user's other organizations, and role flags for the nav."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    current = current_membership(request)
    role = current.role if current else None

    def others() -> list[Membership]:
        return [m for m in memberships(request) if current is None or m.pk != current.pk]

    return {
        "current_membership": current,
        "other_memberships": others,  # called lazily: only the header's switcher uses it
        "is_referrer": role == Role.REFERRER,
        "is_cbo_staff": role == Role.CBO_STAFF,
        "is_org_admin": role == Role.ORG_ADMIN,
        "nav_items": nav_items(current),
        "unread_notifications": _unread_notifications(request) if current else None,
    }


def _unread_notifications(request: HttpRequest) -> int | None:
    """The count in the nav's notifications badge (None when referrals are not installed)."""
    from django.apps import apps

    if not apps.is_installed("referrals"):
        return None
    from referrals.models import Notification

    return Notification.objects.filter(user=request.user).unread().count()
