"""Websocket URL routes. Each app adds its consumers here."""

from __future__ import annotations

from django.urls import path

from handoff.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
]
