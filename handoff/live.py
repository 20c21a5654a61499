"""The one module that publishes live updates to open pages (Channels groups).

Each message shape is a TypedDict whose ``type`` names the consumer handler. Sync code calls a
``publish_*`` function; it sends after the surrounding transaction commits, so a page never
shows a change that was rolled back. Models and views never touch the channel layer directly.
"""

from __future__ import annotations

import logging
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils.html import escape

logger = logging.getLogger(__name__)


class OrgFragment(TypedDict):
    """An HTML fragment (swapped by id, htmx out-of-band) for members of one organization."""

    type: Literal["org.fragment"]
    organization_id: int
    roles: list[str]  # roles that may receive it; empty means every member
    html: str


class UserFragment(TypedDict):
    """An HTML fragment for one user's open pages (notifications, unread counts)."""

    type: Literal["user.fragment"]
    user_id: int
    html: str


def org_group(organization_id: int) -> str:
    return f"org-{organization_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def _send(group: str, message: OrgFragment | UserFragment) -> None:
    layer = get_channel_layer()
    if layer is None:  # no CHANNEL_LAYERS configured: nothing listens
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        # A live update is a convenience on top of data that is already committed; the next
        # page load shows the truth. Never let a dead Redis fail the request that changed data.
        logger.exception("live update to %s failed", group)


def publish_org_fragment(organization_id: int, html: str, roles: list[str] | None = None) -> None:
    message: OrgFragment = {
        "type": "org.fragment",
        "organization_id": organization_id,
        "roles": list(roles or []),
        "html": html,
    }
    transaction.on_commit(lambda: _send(org_group(organization_id), message))


def refetch_html(signal_id: str, url: str, target: str) -> str:
    """A hidden element that, swapped into a page, has the page fetch ``target`` again from
    ``url`` and put it in place.

    For a fragment with forms or words: one rendering pushed to everyone would carry no
    CSRF token of theirs (its forms would be refused) and one person's language. Each page
    fetches it through its own permission-checked view instead, as the referral pages do.
    The page holds an empty element with ``signal_id`` for this to replace.
    """
    return (
        f'<div id="{escape(signal_id)}" hidden hx-swap-oob="true" hx-get="{escape(url)}"'
        f' hx-trigger="load" hx-target="#{escape(target)}" hx-swap="outerHTML"></div>'
    )


def referral_signal_html(referral_id: int, status_tags: dict[str, str] | None = None) -> str:
    """The fragment that tells a page "referral N changed", with its new status tag.

    The status tag (the status label and "overdue", the same for both sides and free of any
    personal detail) comes rendered once per interface language in ``<template>`` elements,
    so an open page shows the new status the moment the signal arrives. Everything else a
    page shows depends on the viewer's side, tab and filters (and carries their own CSRF
    token), so pages re-fetch it through their own permission-checked view.
    """
    templates = "".join(
        f'<template data-lang="{escape(lang)}">{html}</template>'
        for lang, html in (status_tags or {}).items()
    )
    return (
        f'<div id="live-signal" hidden hx-swap-oob="true" data-referral="{int(referral_id)}">'
        f"{templates}</div>"
    )


def publish_referral_changed(
    referral_id: int, organization_ids: list[int], status_tags: dict[str, str] | None = None
) -> None:
    """Tell every open page of these organizations that a referral changed."""
    html = referral_signal_html(referral_id, status_tags)
    for organization_id in organization_ids:
        publish_org_fragment(organization_id, html)


def publish_user_fragment(user_id: int, html: str) -> None:
    message: UserFragment = {"type": "user.fragment", "user_id": user_id, "html": html}
    transaction.on_commit(lambda: _send(user_group(user_id), message))
