from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from directory.hsds.importer import ImportFailed, import_path
from directory.hsds.progress import TerminalBar


class Command(BaseCommand):
    help = (
        "Import an HSDS 3.0 data package (a folder or .zip of CSV files with datapackage.json) "
        "or an HSDS JSON file of services. All or nothing: any problem changes nothing. "
        "Rows are matched by HSDS id, so importing again updates in place."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="folder, .zip, datapackage.json or .json file")
        parser.add_argument(
            "--check", action="store_true", help="only check the package; change nothing"
        )
        parser.add_argument("--no-progress", action="store_true", help="draw no progress bar")

    def handle(self, *args, path: str, check: bool, no_progress: bool, **options) -> None:
        bar = TerminalBar(self.stderr._out, enabled=False if no_progress else None)
        try:
            result = import_path(path, progress=bar, dry_run=check)
        except ImportFailed as failed:
            bar.finish()
            for line in failed.report.problem_lines():
                self.stderr.write(line)
            raise CommandError(
                _("Nothing was imported: %(n)d problem(s) to fix first.")
                % {"n": len(failed.problems) + failed.report.more_problems}
            ) from None
        finally:
            bar.finish()
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(_("Note: %(note)s") % {"note": warning}))
        if check:
            self.stdout.write(
                self.style.SUCCESS(
                    _("%(path)s has no problems; nothing was changed.") % {"path": path}
                )
            )
            return
        for line in result.lines():
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(_("Imported %(path)s.") % {"path": path}))
