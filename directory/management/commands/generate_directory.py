from __future__ import annotations

from django.core.management.base import BaseCommand

from directory.generator import generate_directory


class Command(BaseCommand):
    help = "Add a realistic synthetic directory (deterministic for a seed) around Boston."

    def add_arguments(self, parser):
        parser.add_argument("--services", type=int, default=300)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, services: int, seed: int, **options) -> None:
        def progress(done: int, total: int) -> None:
            width = 30
            filled = width * done // max(total, 1)
            self.stdout.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending=""
            )
            self.stdout.flush()

        counts = generate_directory(services, seed, progress=progress)
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {counts.services} services, {counts.locations} locations, "
                f"{counts.organizations} organizations."
            )
        )
