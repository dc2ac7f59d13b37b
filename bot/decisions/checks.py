"""Cross-file checks of `dose_modifications.yaml`: what would otherwise silently never fire.

A rule naming a drug the schedule does not give, a schedule drug no rule covers, a trigger
on a term the rule can never see (the reduction reads haematological terms only) or at a
grade CTCAE does not have — each loads without complaint and then never decides anything.
`trialbot rules check` (the loader's CROSS_CHECKS) refuses them, naming file, field and
the closest valid name.
"""

from __future__ import annotations

import re

from bot.errors import RulesProblem, closest


def _unknown(file: str, field: str, given: str, allowed: list[str], what: str) -> RulesProblem:
    reason = f"'{given}' is not {what}"
    hint = closest(given, allowed)
    if hint:
        reason += f" (did you mean '{hint}'?)"
    reason += f"; allowed: {', '.join(allowed) or 'none'}"
    return RulesProblem(file, field, reason)


def check_drugs(trial) -> list[RulesProblem]:
    """Every drug the rules name is a drug of the schedule, of the class the rule is
    for; every chemotherapy and immunotherapy drug of the schedule has rules."""
    rules = trial.get("dose_modifications.yaml")
    schedule = trial.get("schedule.yaml")
    file = f"{trial.name}/dose_modifications.yaml"
    by_class: dict[str, list[str]] = {"chemotherapy": [], "immunotherapy": []}
    for drug in schedule.drugs:
        by_class[drug.drug_class].append(drug.id)
    problems: list[RulesProblem] = []
    named: list[tuple[str, str, str]] = [
        (f"chemotherapy.drugs[{i}]", drug, "chemotherapy")
        for i, drug in enumerate(rules.chemotherapy.drugs)
    ]
    for key, block in _immunotherapy_blocks(rules):
        named += [(f"{key}.drugs[{i}]", d, "immunotherapy") for i, d in enumerate(block.drugs)]
    covered = set()
    for field, drug, kind in named:
        if drug in by_class[kind]:
            covered.add(drug)
            continue
        problems.append(
            _unknown(
                file, field, drug, by_class[kind], f"{_article(kind)} {kind} drug of schedule.yaml"
            )
        )
    for index, drug in enumerate(schedule.drugs):
        if drug.id not in covered and not any(d == drug.id for _, d, _ in named):
            problems.append(
                RulesProblem(
                    f"{trial.name}/schedule.yaml",
                    f"drugs[{index}].id",
                    f"{drug.drug_class} drug '{drug.id}' has no rules in dose_modifications.yaml: "
                    "no toxicity would ever change its dose",
                )
            )
    return problems


_OPTION = re.compile(r"(^|\.)options\[\d+\]$")  # a rule's `options`, the i-th


def _texts(value, path: str):
    """(field path, text) of every management and option text under `value` (what a
    decision tells the team to do; a source may cite a drug's own label)."""
    for where, text in _strings(value, path):
        if where.endswith(".management") or where == "management" or _OPTION.search(where):
            yield where, text


def check_shared_texts(trial) -> list[RulesProblem]:
    """Rules answering for several drugs must not name one of them: a second drug's
    decision would read the first drug's name ("Withhold A" on B's hold). Such a text
    writes `{drug}`, which each decision fills with its own drug."""
    rules = trial.get("dose_modifications.yaml")
    file = f"{trial.name}/dose_modifications.yaml"
    problems: list[RulesProblem] = []
    for key, block in _immunotherapy_blocks(rules):
        if len(block.drugs) < 2:
            continue
        for where, text in _texts(block.model_dump(by_alias=True), key):
            for drug in block.drugs:
                if re.search(rf"(?<![\w]){re.escape(drug)}(?![\w])", text, re.IGNORECASE):
                    others = ", ".join(d for d in block.drugs if d != drug)
                    problems.append(
                        RulesProblem(
                            file,
                            where,
                            f"names '{drug}', but these rules answer for {others} too, whose "
                            f"decisions would say '{drug}': write {{drug}} (each decision's own)",
                        )
                    )
                    break
    return problems


def _immunotherapy_blocks(rules):
    """(field prefix, block) of each immunotherapy drug's rules."""
    return [("immunotherapy", rules.immunotherapy)]


def check_rules_can_fire(trial) -> list[RulesProblem]:
    """A chemotherapy trigger reads haematological terms only, at grades CTCAE has; a
    Table-style row fires only at a grade one of its terms has."""
    rules = trial.get("dose_modifications.yaml")
    ctcae = trial.ctcae  # read beside the trial, as check_terms_exist does
    file = f"{trial.name}/dose_modifications.yaml"
    chemo = rules.chemotherapy
    haem = chemo.haematological.terms(ctcae)
    problems: list[RulesProblem] = []

    def grades_of(term: str) -> set[int]:
        found = ctcae.term(term)
        return {g for g, text in found.grades.items() if text} if found else set()

    def haematological(field: str, term: str, why: str) -> None:
        if ctcae.term(term) is not None and term not in haem:
            problems.append(
                RulesProblem(
                    file,
                    field,
                    f"'{term}' is not haematological (chemotherapy.haematological), so {why} "
                    "would never fire",
                )
            )

    for i, trigger in enumerate(chemo.reduce.triggers if chemo.reduce else []):
        field = f"chemotherapy.reduce.triggers[{i}]"
        haematological(f"{field}.term", trigger.term, "this reduction trigger")
        have = grades_of(trigger.term)
        if have and not any(g >= trigger.min_grade for g in have):
            problems.append(
                RulesProblem(
                    file,
                    f"{field}.min_grade",
                    f"'{trigger.term}' has no grade {trigger.min_grade} or above in CTCAE "
                    f"v{ctcae.version} (grades {', '.join(map(str, sorted(have)))})",
                )
            )
    for i, trigger in enumerate(chemo.hold_on.triggers if chemo.hold_on else []):
        haematological(f"chemotherapy.hold_on.triggers[{i}].term", trigger.term, "this hold")
    for i, term in enumerate(chemo.suspend.terms if chemo.suspend else []):
        haematological(f"chemotherapy.suspend.terms[{i}]", term, "this suspension term")
    for term in chemo.refer.per_term_min_grade:
        haematological(f"chemotherapy.refer.per_term_min_grade.{term}", term, "this threshold")
    febrile = chemo.febrile_neutropenia
    if febrile is not None:
        haematological(
            "chemotherapy.febrile_neutropenia.neutropenia_term",
            febrile.neutropenia_term,
            "the combined febrile neutropenia",
        )
    trigger_terms = [t.term for t in chemo.reduce.triggers] if chemo.reduce else []
    if febrile is not None and febrile.counts_as not in trigger_terms:
        problems.append(
            _unknown(
                file,
                "chemotherapy.febrile_neutropenia.counts_as",
                febrile.counts_as,
                trigger_terms,
                "a reduction trigger term (the combined finding would reduce nothing)",
            )
        )
    for key, block in _immunotherapy_blocks(rules):
        for ci, category in enumerate(block.categories):
            have = set().union(*(grades_of(t) for t in category.terms))
            for name, rows in (("rows", category.rows), ("recurrence", category.recurrence)):
                for ri, row in enumerate(rows):
                    if have and not set(row.grades) & have:
                        problems.append(
                            RulesProblem(
                                file,
                                f"{key}.categories[{ci}].{name}[{ri}].grades",
                                f"no term of '{category.id}' has grade "
                                f"{', '.join(map(str, row.grades))} in CTCAE v{ctcae.version}: "
                                "this row would never fire",
                            )
                        )
    return problems


def check_drug_name_typos(trial) -> list[RulesProblem]:
    """A word of a rule's text that is one slip from a drug of the schedule
    (`pembrolizumabb`, `toripalimb`) is a misspelt drug: the decision would print it. Every
    text (a string with a space) of schedule.yaml and dose_modifications.yaml is read; a
    drug's own id and the words of its label are never flagged."""
    import difflib

    schedule = trial.get("schedule.yaml")
    drugs = [d.id.lower() for d in schedule.drugs]
    known = set(drugs) | {w.lower() for d in schedule.drugs for w in re.findall(r"\w+", d.label)}
    problems: list[RulesProblem] = []
    for name in ("schedule.yaml", "dose_modifications.yaml"):
        seen: set[tuple[str, str]] = set()
        for where, text in _strings(trial.get(name).model_dump(by_alias=True), ""):
            if " " not in text.strip():
                continue  # an id (a drug, a series): the reference checks name those
            for word in re.findall(r"[A-Za-z][A-Za-z0-9]{4,}", text):
                lowered = word.lower()
                if lowered in known:
                    continue
                hit = difflib.get_close_matches(lowered, drugs, n=1, cutoff=0.88)
                if hit and (where, lowered) not in seen:
                    seen.add((where, lowered))
                    problems.append(
                        RulesProblem(
                            f"{trial.name}/{name}",
                            where,
                            f"'{word}' is not a drug of schedule.yaml (did you mean '{hit[0]}'?)",
                        )
                    )
    return problems


def _strings(value, path: str):
    """(field path, text) of every string under `value`."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _article(word: str) -> str:
    """'a' or 'an' before `word` (the drug classes: "an immunotherapy drug")."""
    return "an" if word[:1].lower() in "aeiou" else "a"
