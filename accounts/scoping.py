"""Helpers that scope what a request may see to the user's organizations.

Every view that shows data starts from one of these. Asking for another organization's
object is answered with 404 (not 403), so a URL never confirms that something exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from accounts.models import Membership, Role

if TYPE_CHECKING:
    from directory.models import Organization


SESSION_KEY = "current_organization_id"
_UNSET = object()


def current_membership(request: HttpRequest) -> Membership | None:
    """The user's membership in the organization they act for now (cached on the request).

    The choice lives in the session; with none, or a membership since removed, it falls back
    to the user's first organization by name.
    """
    cached = getattr(request, "_current_membership", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    membership = None
    mine = memberships(request)
    if mine:
        wanted = request.session.get(SESSION_KEY)
        membership = next((m for m in mine if m.organization_id == wanted), None)
        if membership is None:
            membership = mine[0]
            request.session[SESSION_KEY] = membership.organization_id
    request._current_membership = membership  # type: ignore[attr-defined]
    return membership


def memberships(request: HttpRequest) -> list[Membership]:
    """All the user's memberships, by organization name (one query, cached on the request)."""
    cached = getattr(request, "_memberships", None)
    if cached is None:
        user = request.user
        cached = (
            list(
                Membership.objects.filter(user=user)
                .select_related("organization")
                .order_by("organization__name", "pk")
            )
            if user.is_authenticated and user.is_active
            else []
        )
        request._memberships = cached  # type: ignore[attr-defined]
    return cached


def switch_organization(request: HttpRequest, organization_id: int) -> Membership:
    """Act for another of the user's organizations; 404 if they are not a member of it."""
    try:
        membership = Membership.objects.select_related("organization").get(
            user=request.user, organization_id=organization_id
        )
    except Membership.DoesNotExist:
        raise Http404 from None
    request.session[SESSION_KEY] = membership.organization_id
    request._current_membership = membership  # type: ignore[attr-defined]
    request.__dict__.pop("_memberships", None)
    return membership


def current_organization(request: HttpRequest) -> Organization:
    """The organization the user is acting for now; 404 if they have none."""
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any organization.")
    return membership.organization


def role_required(*roles: str) -> Callable:
    """Require sign-in and, in the current organization, one of ``roles`` (any role if none).

    Not signed in: the sign-in page. Signed in without such a role here: 403, with a page
    that says which role is needed.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = current_membership(request)
            if membership is None or (roles and membership.role not in roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorator


org_admin_required = role_required(Role.ORG_ADMIN)


def scoped_to_current_org(queryset: Iterable, request: HttpRequest, field: str = "organization"):
    """Filter a queryset to rows of the current organization (an empty set when none)."""
    membership = current_membership(request)
    if membership is None:
        return queryset.none()
    return queryset.filter(**{field: membership.organization_id})


def get_in_current_org_or_404(
    queryset, request: HttpRequest, field: str = "organization", **lookup
):
    """Fetch one object of the current organization, or 404."""
    try:
        return scoped_to_current_org(queryset, request, field).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError):
        raise Http404 from None
