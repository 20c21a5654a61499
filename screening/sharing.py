"""The screening answers a referral may carry to the receiving organization.

Only the answers about the referral's need are shared, and never the answers about safety at
home (the interpersonal-safety questions): a ride program has no use for them, and whoever
reads them could put the person at risk. The consent form says so.

A referral keeps codes, not text: the instrument, and each question's code, how it was
handled and its answer codes, copied from the screening when the referral is sent. The text
is looked up in the instrument when the page is shown, in the reader's language: the sender
and the receiver may not share an interface language, and the codes (LOINC) mean the same
question and answer in every language. What was shared stays fixed: a later screening does
not change the codes an already-sent referral holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from screening.instrument import (
    ANSWERED,
    Instrument,
    InstrumentError,
    Question,
    get_instrument,
    instruments,
)

if TYPE_CHECKING:
    from patients.models import Patient


def safety_questions(instrument: Instrument) -> frozenset[str]:
    """Codes of the questions any safety rule reads (the HITS questions in AHC HRSN)."""
    return frozenset(code for rule in instrument.rules if rule.is_safety for code in rule.questions)


def questions_for_need(instrument: Instrument, category: str) -> list[Question]:
    """The questions whose scoring can find ``category``, in questionnaire order, without the
    safety questions."""
    wanted = {
        code for rule in instrument.rules if rule.category == category for code in rule.questions
    }
    wanted -= safety_questions(instrument)
    return [q for q in instrument.questions if q.code in wanted]


def answers_to_share(patient: Patient, category: str) -> dict | None:
    """The answers about ``category`` from the person's latest completed screening that asks
    about it, as codes; None when no screening does."""
    from screening.models import Screening

    # Only shipped instruments that ask about the need: a screening with a withdrawn
    # instrument, or one that never asks, cannot hold answers to share.
    asking = [i.id for i in instruments().values() if questions_for_need(i, category)]
    screening = (
        Screening.objects.completed()
        .filter(patient=patient, instrument_id__in=asking)
        .order_by("-completed_at", "-pk")
        .first()
    )
    if screening is None:
        return None
    given = {a.question: a for a in screening.answers.all()}
    rows = [
        {"question": q.code, "status": given[q.code].status, "codes": list(given[q.code].codes)}
        for q in questions_for_need(screening.instrument, category)
        if q.code in given
    ]
    return {
        "instrument": screening.instrument_id,
        "version": screening.instrument_version,
        "rows": rows,
    }


def _status_text(status: str) -> str:
    from screening.models import Answer

    return str(dict(Answer.Status.choices).get(status, status))


def answer_lines(shared: dict, language: str) -> list[dict[str, str]]:
    """A shared snapshot's answers as question and answer text in ``language``."""
    try:
        instrument = get_instrument(shared["instrument"])
    except InstrumentError:
        instrument = None
    lines = []
    for row in shared.get("rows", []):
        question = instrument.question(row["question"]) if instrument else None
        if question is None:
            # An instrument changed or withdrawn since: the code is all that can be shown.
            lines.append({"question": row["question"], "answer": ", ".join(row["codes"])})
            continue
        if row["status"] == ANSWERED:
            texts = [
                question.answer(code).text_in(language) if question.answer(code) else code
                for code in row["codes"]
            ]
            answer = "; ".join(texts)
        else:
            answer = _status_text(row["status"])
        lines.append({"question": question.text_in(language), "answer": answer})
    return lines
