"""ASGI entry point: HTTP through Django, websockets through Channels with session auth."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handoff.settings")
# Build the Django app first: it sets up the app registry the consumers import from.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from handoff.routing import websocket_urlpatterns  # noqa: E402


class OriginCheck:
    """Refuse websockets from origins outside ALLOWED_HOSTS, read at connect time.

    Channels' validator copies ALLOWED_HOSTS when it is built; reading it per connection keeps
    it in step with settings changed after import (the test environment adds its hosts late).
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        return await AllowedHostsOriginValidator(self.app)(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
