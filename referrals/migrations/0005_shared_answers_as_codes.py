"""Referrals sent before sharing was limited: keep only the screening answers about the
referral's need, never those about safety at home, and as codes so they show in the reader's
language (screening.sharing)."""

from django.db import migrations


def answers_as_codes(apps, schema_editor):
    from screening.sharing import from_legacy_lines

    Referral = apps.get_model("referrals", "Referral")
    for referral in Referral.objects.filter(shared__has_key="answers").iterator():
        shared = dict(referral.shared)
        lines = shared.pop("answers") or []
        answers = from_legacy_lines(lines, referral.need_category)
        if answers is not None:
            shared["screening"] = answers
        referral.shared = shared
        referral.save(update_fields=["shared"])


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0004_priority_most_urgent_first"),
    ]

    operations = [
        migrations.RunPython(answers_as_codes, migrations.RunPython.noop),
    ]
