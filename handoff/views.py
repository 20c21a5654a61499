from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST


@require_GET
def home(request: HttpRequest) -> TemplateResponse:
    """Each role's home: a useful starting point that says what to do next."""
    return TemplateResponse(request, "core/home.html", {})


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The footer's language picker (Django's set_language). A signed-in person's choice is
    also kept as their preferred language, so what is written for them while they are away
    (notifications, their emails, the unread count pushed to their open pages) is in it too."""
    response = i18n.set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        get_user_model().objects.filter(pk=request.user.pk).update(preferred_language=language)
    return response


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # report any failure, whatever the driver raises
        return f"database: {exc.__class__.__name__}: {exc}"
    return None


def _check_channel_layer() -> str | None:
    layer = get_channel_layer()
    if layer is None:
        return "channel layer: not configured"
    try:
        # A round trip through the layer proves the broker (Redis) answers.
        channel = async_to_sync(layer.new_channel)("healthz.")
        token = uuid.uuid4().hex
        async_to_sync(layer.send)(channel, {"type": "healthz", "token": token})
        message = async_to_sync(layer.receive)(channel)
        if message.get("token") != token:
            return "channel layer: round trip returned the wrong message"
    except Exception as exc:
        return f"channel layer: {exc.__class__.__name__}: {exc}"
    return None


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    failures = [f for f in (_check_database(), _check_channel_layer()) if f]
    body = {"status": "ok" if not failures else "fail", "failures": failures}
    return JsonResponse(body, status=200 if not failures else 503)
