from __future__ import annotations

from django.core.management.base import BaseCommand

from directory.taxonomy import load_taxonomy


class Command(BaseCommand):
    help = "Load (or update) the shipped open service taxonomy. Migrate does this too."

    def handle(self, *args, **options) -> None:
        count = load_taxonomy()
        self.stdout.write(self.style.SUCCESS(f"{count} taxonomy terms are loaded."))
