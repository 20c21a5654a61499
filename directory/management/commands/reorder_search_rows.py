from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from directory.search import reorder_search_rows


class Command(BaseCommand):
    help = (
        "Write the directory's search rows again in taxonomy order (PostgreSQL), so each"
        " word's matches share pages again after many single edits. Searches and edits wait"
        " while it runs (about 10 s at 100,000 services)."
    )

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        done = reorder_search_rows()
        if done is None:
            self.stdout.write(
                _(
                    "Nothing to do: search rows are kept on PostgreSQL only; here the search reads the directory's own tables."
                )
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Wrote %(rows)s search rows in taxonomy order in %(seconds).1f s:"
                    " %(before)s pages before, %(after)s after."
                )
                % {
                    "rows": f"{done.rows:,}",
                    "seconds": time.monotonic() - started,
                    "before": f"{done.pages_before:,}",
                    "after": f"{done.pages_after:,}",
                }
            )
        )
