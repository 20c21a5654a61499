"""PostgreSQL only: each search row's needs as the bits of one bigint, too.

The search counts the need facet over every candidate and tests the need filter on each:
at 100,000 services a common word has 20,000 candidates. On the varchar[] needs, the
containment test and the hash of the array per candidate took ~6 of a ~43 ms search
("housing", 10 miles, open now); on a bigint they are one AND and one integer hash.

directory_need_codes() lists the SDOH category codes in bit order (append only: a row's
bits mean what they meant when it was written) and directory_need_mask(codes) turns codes
into bits. A code missing from the list sets no bit; tests/directory/test_search_postgres.py
checks that every category of the shipped mapping has one, so a new category comes with a
migration that appends it and refreshes the rows.

The needs array stays for services_for_need, which starts from its GIN index. The table is
rebuilt, not altered, so the new column sits with the other fixed-width ones before the
variable-length columns (0005); its rows are derived, and rewritten here from the sources.
"""

import importlib

from django.db import migrations

rows = importlib.import_module("directory.migrations.0005_service_search_rows")
indexes = importlib.import_module("directory.migrations.0007_servicesearch_indexes")

# Frozen here, not read from screening.instrument.SDOH_CATEGORIES: a row's bits must keep the
# meaning they had when this migration wrote them, whatever that list becomes.
NEED_CODES = [
    "food-insecurity",
    "housing-instability",
    "homelessness",
    "inadequate-housing",
    "transportation-insecurity",
    "financial-insecurity",
    "material-hardship",
    "educational-attainment",
    "employment-status",
    "veteran-status",
    "stress",
    "social-connection",
    "intimate-partner-violence",
    "elder-abuse",
    "personal-health-literacy",
    "health-insurance-coverage-status",
    "medical-cost-burden",
    "digital-literacy",
    "digital-access",
    "utility-insecurity",
    "incarceration-status",
    "language-access",
    "protective-factor",
    "sdoh-category-unspecified",
]

NEED_FUNCTIONS = [
    "CREATE FUNCTION directory_need_codes() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$"
    f" SELECT ARRAY[{', '.join(repr(code) for code in NEED_CODES)}]::text[] $$",
    # Immutable: with constant codes (a search's need) the planner computes it once.
    "CREATE FUNCTION directory_need_mask(codes text[]) RETURNS bigint"
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$"
    " SELECT coalesce(bit_or(1::bigint << (n.bit - 1)::int), 0)"
    " FROM unnest(directory_need_codes()) WITH ORDINALITY AS n(code, bit) WHERE n.code = ANY (codes) $$",
]


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def with_needs_mask(create_table: str, refresh_function: str) -> tuple[str, str]:
    """0005's table and refresh function, with needs_mask beside the fixed-width columns."""
    create_table = _replace_once(
        create_table, "    days smallint NOT NULL,\n", "    days smallint NOT NULL,\n    needs_mask bigint NOT NULL,\n"
    )
    refresh = _replace_once(refresh_function, "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
    refresh = _replace_once(refresh, "more_xyz, needs, languages", "more_xyz, needs_mask, needs, languages")
    refresh = _replace_once(
        refresh,
        "       coalesce(n.needs, '{}'),\n",
        "       directory_need_mask(n.needs::text[]),\n       coalesce(n.needs, '{}'),\n",
    )
    refresh = _replace_once(refresh, "needs = EXCLUDED.needs,", "needs_mask = EXCLUDED.needs_mask, needs = EXCLUDED.needs,")
    return create_table, refresh


def rebuild(schema_editor, create_table: str, refresh_function: str) -> None:
    for statement in [
        "DROP TABLE directory_servicesearch",
        create_table,
        *rows.INDEXES,
        *indexes.FORWARD,
        refresh_function,
        "SELECT directory_servicesearch_refresh(ARRAY(SELECT id FROM directory_service))",
    ]:
        schema_editor.execute(statement)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in NEED_FUNCTIONS:
        schema_editor.execute(statement)
    rebuild(schema_editor, *with_needs_mask(rows.CREATE_TABLE, rows.REFRESH_FUNCTION))


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    rebuild(
        schema_editor,
        rows.CREATE_TABLE,
        _replace_once(rows.REFRESH_FUNCTION, "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"),
    )
    schema_editor.execute("DROP FUNCTION directory_need_mask(text[])")
    schema_editor.execute("DROP FUNCTION directory_need_codes()")


class Migration(migrations.Migration):
    dependencies = [("directory", "0008_servicesearch_deferred")]

    operations = [migrations.RunPython(forward, backward)]
