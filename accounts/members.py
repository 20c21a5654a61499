"""Adding people to an organization and telling them."""

from __future__ import annotations

from allauth.account import app_settings as allauth_settings
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from accounts.models import Membership, Role, User
from directory.models import Organization
from handoff import live


def add_member(
    request: HttpRequest, organization: Organization, *, email: str, full_name: str, role: str
) -> Membership:
    """Add a person to ``organization``; a new person gets an invitation to set a password.
    The email is written in the person's own language."""
    email = email.strip().lower()
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        created = user is None
        if created:
            # Until they choose (the footer's picker), a new person reads in the inviter's language.
            language = translation.get_language()
            user = User.objects.create_user(
                email=email,
                full_name=full_name,
                preferred_language=(
                    language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
                ),
            )
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
        membership = Membership.objects.create(
            user=user, organization=organization, role=role, added_by=request.user
        )
        transaction.on_commit(lambda: _send_welcome(request, membership, needs_password=created))
        publish_members_changed(organization)
    return membership


def _send_welcome(request: HttpRequest, membership: Membership, *, needs_password: bool) -> None:
    user = membership.user
    context = {
        "membership": membership,
        "organization": membership.organization,
        "invited_by": request.user,
        "site_url": request.build_absolute_uri("/"),
    }
    if needs_password:
        # allauth's own password-reset link: the invitation is a first "reset".
        token = allauth_settings.PASSWORD_RESET_TOKEN_GENERATOR().make_token(user)
        path = reverse(
            "account_reset_password_from_key",
            kwargs={"uidb36": user_pk_to_url_str(user), "key": token},
        )
        context["set_password_url"] = request.build_absolute_uri(path)
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        subject = render_to_string("accounts/email/added_subject.txt", context).strip()
        body = render_to_string("accounts/email/added_message.txt", context)
    send_mail(subject, body, None, [user.email])


def members_of(organization: Organization):
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user", "added_by")
        .order_by("user__full_name", "user__email")
    )


def publish_members_changed(organization: Organization) -> None:
    """Refresh the member list on every admin's open Members page: each page fetches it again
    (live.refetch_html), with its own CSRF token for the table's forms."""
    html = live.refetch_html(
        "members-signal", reverse("accounts:members") + "?part=table", "member-table"
    )
    live.publish_org_fragment(organization.pk, html, roles=[Role.ORG_ADMIN])
