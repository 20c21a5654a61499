"""WSGI entry point (HTTP only; live updates need the ASGI app)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handoff.settings")
application = get_wsgi_application()
