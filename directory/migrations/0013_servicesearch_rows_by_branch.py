"""PostgreSQL only: search rows written in taxonomy order, so a word's matches share pages.

A common word ("housing": ~22,400 of 100,000 services) matched rows on 7,353 of the table's
7,607 pages: rows were written in the order services were created, so the services of one
kind were spread over the whole table, and reading them cost a page each. The refresh
function (0005, 0009) now writes the rows it is given in the order of their services'
first taxonomy code (byte order, so a branch's codes are consecutive: "food", "food.pantry",
…), then by service. What a word finds mostly shares a branch, so its rows sit together.
The benchmark's 200 statements at 100,000 services, each run on a copy of the table in the
old order and on one in this order, in turn: p50 10.6 and 7.2 ms, p95 37.2 and 29.4 ms
(benchmarks/NOTES.md).

A bulk write (an import, the generator, anything in directory.search.deferred_search_rows)
refreshes its services at once, so their rows are written in this order. A row refreshed
alone (an edit) is written wherever there is room; a later bulk refresh orders it again.
The table is rebuilt here, as in 0009, so an existing directory is ordered too.
"""

import importlib

from django.db import migrations

rows = importlib.import_module("directory.migrations.0005_service_search_rows")
needs_mask = importlib.import_module("directory.migrations.0009_servicesearch_needs_mask")

IN_BRANCH_ORDER = """ WHERE s.id = ANY (ids)
 ORDER BY (SELECT min(tt.code COLLATE "C")
             FROM directory_servicetaxonomy st
             JOIN directory_taxonomyterm tt ON tt.id = st.taxonomy_term_id
            WHERE st.service_id = s.id) NULLS LAST, s.id
ON CONFLICT (service_id)"""


def in_branch_order(refresh_function: str) -> str:
    return needs_mask._replace_once(
        refresh_function, " WHERE s.id = ANY (ids)\nON CONFLICT (service_id)", IN_BRANCH_ORDER
    )


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    create_table, refresh = needs_mask.with_needs_mask(rows.CREATE_TABLE, rows.REFRESH_FUNCTION)
    needs_mask.rebuild(schema_editor, create_table, in_branch_order(refresh))


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    needs_mask.rebuild(
        schema_editor, *needs_mask.with_needs_mask(rows.CREATE_TABLE, rows.REFRESH_FUNCTION)
    )


class Migration(migrations.Migration):
    dependencies = [("directory", "0012_search_documents_with_needs")]

    operations = [migrations.RunPython(forward, backward)]
