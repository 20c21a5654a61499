"""Referrals sent before sharing was limited: keep only the screening answers about the
referral's need, never those about safety at home, and as codes so they show in the reader's
language (screening.sharing).

The matching of old text to codes lives here, not in the app: only this migration needs it,
and later changes to the app must not change what it did.
"""

from django.db import migrations

# How skipped questions read in those snapshots (there was no translation catalog then).
LEGACY_STATUS = {"Declined to answer": "declined", "Not asked": "not-asked"}


def questions_by_text(instrument) -> dict:
    return {text: q for q in instrument.questions for text in q.text.values()}


def from_legacy_lines(lines: list[dict], category: str) -> dict | None:
    """Codes for an old snapshot's question/answer text, keeping only the answers that would be
    shared now (about ``category``, never safety); None when none are left.

    Lines that cannot be matched to a shipped instrument are dropped: not showing an answer
    is the safe side.
    """
    from screening.instrument import instruments
    from screening.sharing import questions_for_need

    if not lines:
        return None
    # The lines all came from one screening: the instrument that knows the most of them.
    known = [(instrument, questions_by_text(instrument)) for instrument in instruments().values()]
    instrument, questions = max(
        known, key=lambda pair: sum(line.get("question") in pair[1] for line in lines)
    )
    allowed = {q.code for q in questions_for_need(instrument, category)}
    found: dict[str, dict] = {}
    for line in lines:
        question = questions.get(line.get("question"))
        if question is None or question.code not in allowed:
            continue
        answer = line.get("answer", "")
        if answer in LEGACY_STATUS:
            found[question.code] = {"question": question.code, "status": LEGACY_STATUS[answer], "codes": []}
            continue
        by_text = {text: a.code for a in question.answers for text in a.text.values()}
        codes = [by_text.get(part) for part in answer.split("; ")]
        if codes and None not in codes:
            found[question.code] = {"question": question.code, "status": "answered", "codes": codes}
    rows = [found[q.code] for q in instrument.questions if q.code in found]
    if not rows:
        return None
    return {"instrument": instrument.id, "version": instrument.version, "rows": rows}


def answers_as_codes(apps, schema_editor):
    Referral = apps.get_model("referrals", "Referral")
    # Read first, then write: rows changed while a cursor walks them are undefined on SQLite.
    old = list(Referral.objects.filter(shared__has_key="answers").values_list("pk", "shared", "need_category"))
    for pk, shared, need_category in old:
        shared = dict(shared)
        answers = from_legacy_lines(shared.pop("answers") or [], need_category)
        if answers is not None:
            shared["screening"] = answers
        Referral.objects.filter(pk=pk).update(shared=shared)


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0004_priority_most_urgent_first"),
    ]

    operations = [
        migrations.RunPython(answers_as_codes, migrations.RunPython.noop),
    ]
