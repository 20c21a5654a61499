"""Screening instruments as data: load and validate the files in ``instruments/``, score answers.

An instrument file (JSON) has domains; a domain has questions (LOINC codes, answers with
LOINC answer codes and per-language text) and rules. A rule makes the domain positive for
one SDOH category. Positivity is always keyed on (instrument, question, answer): the rule
lives in the instrument's own file, so the same question code can score differently in
another instrument. Adding a kind of rule means adding one ``RuleKind`` to ``RULE_KINDS``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

INSTRUMENT_DIR = Path(__file__).resolve().parent / "instruments"
FORMAT = 1
LOINC = "http://loinc.org"

# The Gravity project's SDOH categories (SDOHCC-CodeSystemTemporaryCodes), fhir-sdoh.md.
SDOH_CATEGORIES = (
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
)

# How a question was handled; skipped questions are recorded, never dropped.
ANSWERED = "answered"
DECLINED = "declined"
NOT_ASKED = "not-asked"

# What a rule concludes.
POSITIVE = "positive"
NEGATIVE = "negative"
INCOMPLETE = "incomplete"  # some needed answers are missing: never read as negative
UNANSWERED = "unanswered"  # none of the rule's questions were answered


class InstrumentError(ValueError):
    """A malformed instrument file; the message names the file and the element at fault."""


@dataclass(frozen=True)
class Answer:
    code: str
    display: str
    text: Mapping[str, str]
    value: int | None = None
    exclusive: bool = False

    def text_in(self, language: str) -> str:
        return self.text.get(language) or self.text["en"]


@dataclass(frozen=True)
class Question:
    code: str
    display: str
    type: str  # "single" or "multiple"
    text: Mapping[str, str]
    answers: tuple[Answer, ...]
    domain_id: str = ""

    @property
    def multiple(self) -> bool:
        return self.type == "multiple"

    def text_in(self, language: str) -> str:
        return self.text.get(language) or self.text["en"]

    def answer(self, code: str) -> Answer | None:
        return next((a for a in self.answers if a.code == code), None)


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    category: str
    questions: tuple[str, ...]
    summary: Mapping[str, str]
    params: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def summary_in(self, language: str) -> str:
        return self.summary.get(language) or self.summary["en"]

    @property
    def is_safety(self) -> bool:
        return bool(self.params.get("safety"))


@dataclass(frozen=True)
class Domain:
    id: str
    title: Mapping[str, str]
    questions: tuple[Question, ...]
    rules: tuple[Rule, ...]

    def title_in(self, language: str) -> str:
        return self.title.get(language) or self.title["en"]


@dataclass(frozen=True)
class Instrument:
    id: str
    version: str
    languages: tuple[str, ...]
    title: Mapping[str, str]
    code: Mapping[str, str]
    domains: tuple[Domain, ...]

    def title_in(self, language: str) -> str:
        return self.title.get(language) or self.title["en"]

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for d in self.domains for q in d.questions)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(r for d in self.domains for r in d.rules)

    def question(self, code: str) -> Question | None:
        return next((q for q in self.questions if q.code == code), None)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def categories_for(self, question_code: str) -> list[str]:
        """SDOH categories of the rules that read this question (Observation.category)."""
        return sorted({r.category for r in self.rules if question_code in r.questions})

    def is_positive_answer(self, question_code: str, answer_code: str) -> bool:
        """Whether this answer, to this question, in this instrument, marks a possible need."""
        return any(
            RULE_KINDS[r.kind].marks_positive(r, question_code, answer_code) for r in self.rules
        )

    def language_for(self, wanted: str) -> str:
        return wanted if wanted in self.languages else self.languages[0]


# --- scoring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """How one question was handled: answered with codes, declined, or not asked."""

    status: str
    codes: tuple[str, ...] = ()

    @property
    def answered(self) -> bool:
        return self.status == ANSWERED and bool(self.codes)


@dataclass(frozen=True)
class Outcome:
    rule: Rule
    status: str
    score: int | None = None

    @property
    def positive(self) -> bool:
        return self.status == POSITIVE


class RuleKind:
    """One kind of rule: how to check it in a file and how to score it."""

    name: ClassVar[str]
    fields: ClassVar[dict[str, type | tuple[type, ...]]] = {}

    def validate(self, rule: dict, questions: dict[str, Question], where: str) -> None:
        raise NotImplementedError

    def evaluate(self, rule: Rule, responses: Mapping[str, Response]) -> Outcome:
        raise NotImplementedError

    def marks_positive(self, rule: Rule, question_code: str, answer_code: str) -> bool:
        return False


class AnyAnswerIn(RuleKind):
    """Positive when any of the questions has any of the listed answers."""

    name = "any_answer_in"
    fields: ClassVar = {"answers": list, "result": dict}

    def validate(self, rule, questions, where):
        answers = rule.get("answers")
        if not isinstance(answers, list) or not answers:
            raise InstrumentError(f"{where}: 'answers' must be a non-empty list of answer codes")
        known = {a.code for code in rule["questions"] for a in questions[code].answers}
        for code in answers:
            if code not in known:
                raise InstrumentError(
                    f"{where}: answer {code!r} is not an answer of the rule's questions"
                )

    def evaluate(self, rule, responses):
        wanted = set(rule.params["answers"])
        given = [responses.get(code) for code in rule.questions]
        if any(r is not None and r.answered and wanted.intersection(r.codes) for r in given):
            return Outcome(rule, POSITIVE)
        answered = [r for r in given if r is not None and r.answered]
        if not answered:
            return Outcome(rule, UNANSWERED)
        if len(answered) < len(given):
            return Outcome(rule, INCOMPLETE)
        return Outcome(rule, NEGATIVE)

    def marks_positive(self, rule, question_code, answer_code):
        return question_code in rule.questions and answer_code in rule.params["answers"]


class SumAtLeast(RuleKind):
    """Positive when the answers' values add up to at least ``threshold``.

    With ``require_all`` every question must be answered to make a score; otherwise the rule is
    incomplete (the HITS safety score, screening.md).
    """

    name = "sum_at_least"
    fields: ClassVar = {"threshold": int, "require_all": bool, "score": dict, "safety": bool}

    def validate(self, rule, questions, where):
        if not isinstance(rule.get("threshold"), int) or isinstance(rule.get("threshold"), bool):
            raise InstrumentError(f"{where}: 'threshold' must be a whole number")
        if not isinstance(rule.get("require_all"), bool):
            raise InstrumentError(f"{where}: 'require_all' must be true or false")
        for code in rule["questions"]:
            for answer in questions[code].answers:
                if answer.value is None:
                    raise InstrumentError(
                        f"{where}: answer {answer.code!r} of question {code!r} needs a 'value' to be summed"
                    )
            if questions[code].multiple:
                raise InstrumentError(
                    f"{where}: question {code!r} must be single choice to be summed"
                )
        score = rule.get("score")
        if score is not None and not {"system", "code", "display"} <= set(score):
            raise InstrumentError(f"{where}: 'score' needs 'system', 'code' and 'display'")

    def evaluate(self, rule, responses):
        values = []
        for code in rule.questions:
            response = responses.get(code)
            if response is None or not response.answered:
                continue
            values.append(self._question(rule, code).answer(response.codes[0]).value)
        if not values:
            return Outcome(rule, UNANSWERED)
        complete = len(values) == len(rule.questions)
        if not complete and rule.params["require_all"]:
            return Outcome(rule, INCOMPLETE)
        total = sum(values)
        if total >= rule.params["threshold"]:
            return Outcome(rule, POSITIVE, total)
        return Outcome(rule, NEGATIVE if complete else INCOMPLETE, total)

    @staticmethod
    def _question(rule: Rule, code: str) -> Question:
        return rule.params["_questions"][code]


RULE_KINDS: dict[str, RuleKind] = {kind.name: kind for kind in (AnyAnswerIn(), SumAtLeast())}


def score(instrument: Instrument, responses: Mapping[str, Response]) -> list[Outcome]:
    """Every rule of the instrument, scored on these responses (keyed by question code)."""
    return [RULE_KINDS[r.kind].evaluate(r, responses) for r in instrument.rules]


# --- loading -------------------------------------------------------------------------------


def _texts(value: Any, languages: tuple[str, ...], where: str, name: str = "text") -> dict:
    if not isinstance(value, dict):
        raise InstrumentError(f"{where}: '{name}' must be an object with one text per language")
    for language in languages:
        text = value.get(language)
        if not isinstance(text, str) or not text.strip():
            raise InstrumentError(f"{where}: '{name}' has no {language!r} text")
    extra = set(value) - set(languages)
    if extra:
        raise InstrumentError(
            f"{where}: '{name}' has text in undeclared language(s) {sorted(extra)}"
        )
    return dict(value)


def _keys(data: dict, where: str, required: set[str], optional: set[str] = frozenset()) -> None:
    if not isinstance(data, dict):
        raise InstrumentError(f"{where}: must be an object")
    missing = required - set(data)
    if missing:
        raise InstrumentError(f"{where}: missing {', '.join(repr(k) for k in sorted(missing))}")
    unknown = set(data) - required - set(optional)
    if unknown:
        raise InstrumentError(
            f"{where}: unknown field(s) {', '.join(repr(k) for k in sorted(unknown))}"
        )


def _string(data: dict, key: str, where: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise InstrumentError(f"{where}: {key!r} must be a non-empty string")
    return value


def _answer(data: Any, languages, where: str) -> Answer:
    _keys(data, where, {"code", "display", "text"}, {"value", "exclusive"})
    value = data.get("value")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise InstrumentError(f"{where}: 'value' must be a whole number")
    exclusive = data.get("exclusive", False)
    if not isinstance(exclusive, bool):
        raise InstrumentError(f"{where}: 'exclusive' must be true or false")
    return Answer(
        code=_string(data, "code", where),
        display=_string(data, "display", where),
        text=_texts(data["text"], languages, where),
        value=value,
        exclusive=exclusive,
    )


def _question(data: Any, languages, domain_where: str, index: int, domain_id: str) -> Question:
    label = data.get("code", index) if isinstance(data, dict) else index
    where = f"{domain_where}, question {label!r}"
    _keys(data, where, {"code", "display", "type", "text", "answers"})
    code = _string(data, "code", where)
    if data["type"] not in ("single", "multiple"):
        raise InstrumentError(
            f"{where}: 'type' must be 'single' or 'multiple', not {data['type']!r}"
        )
    if not isinstance(data["answers"], list) or not data["answers"]:
        raise InstrumentError(f"{where}: 'answers' must be a non-empty list")
    answers = []
    for index, item in enumerate(data["answers"]):
        label = item.get("code", index) if isinstance(item, dict) else index
        answers.append(_answer(item, languages, f"{where}, answer {label!r}"))
    codes = [a.code for a in answers]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise InstrumentError(f"{where}: answer code(s) {duplicates} appear more than once")
    return Question(
        code=code,
        display=_string(data, "display", where),
        type=data["type"],
        text=_texts(data["text"], languages, where),
        answers=tuple(answers),
        domain_id=domain_id,
    )


_RULE_BASE = {"id", "kind", "category", "questions", "summary"}


def _rule(
    data: Any, languages, questions: dict[str, Question], domain_where: str, index: int
) -> Rule:
    label = data.get("id", index) if isinstance(data, dict) else index
    where = f"{domain_where}, rule {label!r}"
    if not isinstance(data, dict):
        raise InstrumentError(f"{where}: must be an object")
    kind = RULE_KINDS.get(data.get("kind"))
    if kind is None:
        raise InstrumentError(
            f"{where}: unknown rule kind {data.get('kind')!r} (known: {', '.join(sorted(RULE_KINDS))})"
        )
    required = _RULE_BASE | {k for k in kind.fields if k in ("answers", "threshold", "require_all")}
    _keys(data, where, required, set(kind.fields))
    _string(data, "id", where)
    if data["category"] not in SDOH_CATEGORIES:
        raise InstrumentError(f"{where}: {data['category']!r} is not an SDOH category code")
    if not isinstance(data["questions"], list) or not data["questions"]:
        raise InstrumentError(f"{where}: 'questions' must be a non-empty list of question codes")
    for code in data["questions"]:
        if code not in questions:
            raise InstrumentError(f"{where}: question {code!r} is not in this instrument")
    kind.validate(data, questions, where)
    params = {k: v for k, v in data.items() if k not in _RULE_BASE}
    params["_questions"] = {code: questions[code] for code in data["questions"]}
    return Rule(
        id=data["id"],
        kind=data["kind"],
        category=data["category"],
        questions=tuple(data["questions"]),
        summary=_texts(data["summary"], languages, where, "summary"),
        params=params,
    )


def parse_instrument(data: Any, source: str = "<data>") -> Instrument:
    """Build an Instrument from parsed JSON, or raise InstrumentError naming what is wrong."""
    _keys(data, source, {"format", "id", "version", "languages", "title", "code", "domains"})
    if data["format"] != FORMAT:
        raise InstrumentError(f"{source}: 'format' must be {FORMAT}, not {data['format']!r}")
    languages = data["languages"]
    if (
        not isinstance(languages, list)
        or not languages
        or not all(isinstance(x, str) for x in languages)
        or "en" not in languages
    ):
        raise InstrumentError(
            f"{source}: 'languages' must be a list of language codes including 'en'"
        )
    languages = tuple(languages)
    instrument_id = _string(data, "id", source)
    _keys(data["code"], f"{source}: 'code'", {"system", "code", "display"})
    if not isinstance(data["domains"], list) or not data["domains"]:
        raise InstrumentError(f"{source}: 'domains' must be a non-empty list")
    questions: dict[str, Question] = {}
    rule_ids: set[str] = set()
    domains = []
    for index, raw in enumerate(data["domains"]):
        label = raw.get("id", index) if isinstance(raw, dict) else index
        where = f"{source}: domain {label!r}"
        _keys(raw, where, {"id", "title", "questions", "rules"})
        if not isinstance(raw["questions"], list) or not raw["questions"]:
            raise InstrumentError(f"{where}: 'questions' must be a non-empty list")
        own = []
        for q_index, q in enumerate(raw["questions"]):
            question = _question(q, languages, where, q_index, raw["id"])
            if question.code in questions:
                raise InstrumentError(f"{where}: question {question.code!r} appears more than once")
            questions[question.code] = question
            own.append(question)
        if not isinstance(raw["rules"], list):
            raise InstrumentError(f"{where}: 'rules' must be a list")
        rules = []
        for r_index, r in enumerate(raw["rules"]):
            rule = _rule(r, languages, questions, where, r_index)
            if rule.id in rule_ids:
                raise InstrumentError(f"{where}: rule id {rule.id!r} appears more than once")
            rule_ids.add(rule.id)
            rules.append(rule)
        domains.append(
            Domain(
                id=_string(raw, "id", where),
                title=_texts(raw["title"], languages, where, "title"),
                questions=tuple(own),
                rules=tuple(rules),
            )
        )
    return Instrument(
        id=instrument_id,
        version=_string(data, "version", source),
        languages=languages,
        title=_texts(data["title"], languages, source, "title"),
        code=dict(data["code"]),
        domains=tuple(domains),
    )


def load_instrument(path: Path) -> Instrument:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InstrumentError(f"{path.name}: not valid JSON ({exc})") from exc
    instrument = parse_instrument(data, path.name)
    if f"{instrument.id}.json" != path.name:
        raise InstrumentError(f"{path.name}: 'id' {instrument.id!r} must match the file name")
    return instrument


@cache
def instruments() -> dict[str, Instrument]:
    """Every shipped instrument by id, loaded and validated once per process."""
    return {i.id: i for i in (load_instrument(p) for p in sorted(INSTRUMENT_DIR.glob("*.json")))}


def get_instrument(instrument_id: str) -> Instrument:
    try:
        return instruments()[instrument_id]
    except KeyError:
        raise InstrumentError(f"No instrument named {instrument_id!r}") from None
