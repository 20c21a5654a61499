"""PostgreSQL only: bulk writes may refresh the search rows once, at the end.

The triggers of 0005 refresh a service's search row after every statement that touches it.
A bulk load writes services, then their needs, languages, terms, places and hours: five
or six rewrites of every row, which leave the table several times its live size (100,000
services: 250 MB instead of 54 MB) and every search scanning that much more until a
VACUUM FULL. Inside directory.search.deferred_search_rows() the triggers only note the
services (in a temporary table of the session) and the rows are written once, before the
transaction commits. Elsewhere nothing changes: an edit is searchable at once.
"""

import importlib

from django.db import migrations

TOUCH_FUNCTION = """
CREATE FUNCTION directory_servicesearch_touch(ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('handoff.search_rows_deferred', true) = 'on' THEN
        INSERT INTO directory_servicesearch_pending (service_id)
        SELECT DISTINCT unnest(ids) ON CONFLICT DO NOTHING;
    ELSE
        PERFORM directory_servicesearch_refresh(ids);
    END IF;
END
$$
"""


def trigger_functions(target: str) -> list[str]:
    """The trigger functions of 0005, calling ``target`` with the services they touched."""
    rows = importlib.import_module("directory.migrations.0005_service_search_rows")
    return [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n    PERFORM {target}(ARRAY({ids}));\n    RETURN NULL;\nEND\n$$"
        for name, ids in rows.TRIGGER_FUNCTIONS.items()
    ]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in [TOUCH_FUNCTION, *trigger_functions("directory_servicesearch_touch")]:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in trigger_functions("directory_servicesearch_refresh"):
        schema_editor.execute(statement)
    schema_editor.execute("DROP FUNCTION IF EXISTS directory_servicesearch_touch(bigint[])")


class Migration(migrations.Migration):
    dependencies = [("directory", "0007_servicesearch_indexes")]

    operations = [migrations.RunPython(forward, backward)]
