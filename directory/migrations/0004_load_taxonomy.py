from django.db import migrations


def load(apps, schema_editor):
    from directory.taxonomy import load_taxonomy

    load_taxonomy(apps.get_model("directory", "TaxonomyTerm"))


class Migration(migrations.Migration):
    dependencies = [("directory", "0003_postgres_search")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
