"""PostgreSQL only: two more indexes on the search rows.

- name: a search without words or a place (the directory's first page, a need or "open
  now" alone) lists services by name; the page reads the first twenty rows that pass the
  filters in name order instead of sorting every active service.
- needs (GIN): services_for_need (a screening's suggestions, a referral's re-route) starts
  from the services meeting one need: needs @> ARRAY[...].
"""

from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS dir_servicesearch_name_idx ON directory_servicesearch (name, service_id)",
    "CREATE INDEX IF NOT EXISTS dir_servicesearch_needs_gin ON directory_servicesearch USING gin (needs)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS dir_servicesearch_needs_gin",
    "DROP INDEX IF EXISTS dir_servicesearch_name_idx",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("directory", "0006_hsds_importjob")]

    operations = [migrations.RunPython(forward, backward)]
