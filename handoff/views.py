from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
def home(request: HttpRequest) -> TemplateResponse:
    """Each role's home: a useful starting point that says what to do next."""
    return TemplateResponse(request, "core/home.html", {})


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
