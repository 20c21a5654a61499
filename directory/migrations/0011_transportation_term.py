"""The taxonomy's "Transit" branch is named "Transportation", the word people search with.

Searching "transportation" found 2 of the 18 services meeting a transportation need: the
branch's services are found by their terms' ancestors' names (0010), and the top term's name
was "Transit". Renames the shipped term where it still has its shipped name (a directory that
renamed it keeps its own), then rewrites the search documents that change, with 0010's own
(frozen) rewrite.
"""

import importlib

from django.db import migrations


def forward(apps, schema_editor):
    term_model = apps.get_model("directory", "TaxonomyTerm")
    renamed = term_model.objects.filter(
        vocabulary="handoff", code="transit", name="Transit"
    ).update(name="Transportation")
    if renamed:
        rewrite = importlib.import_module(
            "directory.migrations.0010_search_documents_with_ancestors"
        ).forward
        rewrite(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("directory", "0010_search_documents_with_ancestors")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
