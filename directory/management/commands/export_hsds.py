from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from directory.hsds.exporter import export_directory
from directory.hsds.progress import TerminalBar


class Command(BaseCommand):
    help = (
        "Write the whole directory as an HSDS 3.0 tabular data package: CSV files and "
        "datapackage.json in a folder, or in a .zip when PATH ends with .zip."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "path", help="a folder to create or fill, or a file name ending in .zip"
        )
        parser.add_argument("--no-progress", action="store_true", help="draw no progress bar")

    def handle(self, *args, path: str, no_progress: bool, **options) -> None:
        bar = TerminalBar(self.stderr._out, enabled=False if no_progress else None)
        try:
            counts = export_directory(path, progress=bar)
        finally:
            bar.finish()
        rows = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
        self.stdout.write(
            self.style.SUCCESS(_("Wrote %(path)s: %(rows)s.") % {"path": path, "rows": rows})
        )
