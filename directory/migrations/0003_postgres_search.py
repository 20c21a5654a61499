"""PostgreSQL-only search structures; SQLite searches the same columns without them."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

FORWARD = [
    # A stored tsvector (name weighted A over the rest): ranking reads it instead of
    # re-parsing every matching document.
    """ALTER TABLE directory_service ADD COLUMN search_vector tsvector
       GENERATED ALWAYS AS (
         setweight(to_tsvector('english', coalesce(name, '')), 'A')
         || setweight(to_tsvector('english', coalesce(search_document, '')), 'D')
       ) STORED""",
    # Word search: search_vector @@ to_tsquery(...).
    "CREATE INDEX dir_service_search_gin ON directory_service USING gin (search_vector)",
    # Typo correction: the nearest lexicon word by trigram similarity (the % operator).
    "CREATE INDEX dir_searchword_trgm ON directory_searchword USING gin (word gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS dir_searchword_trgm",
    "DROP INDEX IF EXISTS dir_service_search_gin",
    "ALTER TABLE directory_service DROP COLUMN IF EXISTS search_vector",
]


class PostgresOnlyTrigram(TrigramExtension):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass  # other apps may use the extension; leave it installed


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in FORWARD:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in BACKWARD:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("directory", "0002_hsds_directory")]

    operations = [
        PostgresOnlyTrigram(),
        migrations.RunPython(forward, backward),
    ]
