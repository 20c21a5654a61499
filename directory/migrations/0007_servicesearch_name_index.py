"""PostgreSQL only: the search rows in name order, for searches sorted by name.

A search without words or a place (the directory's first page, a need or "open now" alone)
lists services by name: with this index the page reads the first twenty rows that pass the
filters in order instead of sorting every active service.
"""

from django.db import migrations

FORWARD = (
    "CREATE INDEX dir_servicesearch_name_idx ON directory_servicesearch (name, service_id)"
)
BACKWARD = "DROP INDEX IF EXISTS dir_servicesearch_name_idx"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("directory", "0006_hsds_importjob")]

    operations = [migrations.RunPython(forward, backward)]
