"""The /trial language's details: any order, any case, quotes, dates, yes/no, numbers,
typos — through the dispatcher both transports use."""

from __future__ import annotations

import pytest


def _refused(reply, *fragments: str) -> None:
    assert not reply.ok and not reply.failed
    for fragment in fragments:
        assert fragment in reply.error, (fragment, reply.error)
    assert "Traceback" not in reply.text


# --- subcommands -------------------------------------------------------------------------
def test_a_typo_gets_did_you_mean_and_the_usage_line(say):
    reply = say(f"lba {say.sid} ANC 0.4")
    _refused(reply, "unknown subcommand 'lba' — did you mean 'lab'?")
    assert "usage: `/trial lab LACC-007" in reply.text


def test_nonsense_gets_the_list_of_subcommands(say):
    reply = say("xyzzy")
    _refused(reply, "unknown subcommand 'xyzzy'", "help")


@pytest.mark.parametrize(
    "text", ["/trial LAB {sid} ANC 0.4", "Lab {sid} ANC 0.4", "  /trial   lab {sid} ANC 0.4 "]
)
def test_subcommands_in_any_case_with_or_without_the_prefix(say, text):
    reply = say(text.format(sid=say.sid))
    assert reply.ok and "Neutrophil count decreased *grade 4*" in reply.text


def test_nothing_typed_is_the_overview(say):
    assert say("/trial").ok and "`help <subcommand>`" in say("").text


# --- words and options ---------------------------------------------------------------------
def test_options_and_words_in_any_order_keys_in_any_case(say):
    reply = say(f"lab IRAE=No ANC 0.4 DATE=2027-03-04 {say.sid.lower()}")
    assert reply.ok
    assert "lab E" in reply.text and "Thu 04 Mar 2027" in reply.text
    assert "immune-related: no" in reply.text


def test_the_study_id_is_the_first_word_that_is_one(say):
    reply = say("lab ANC 0.4 lacc-007 PLT 62")
    assert reply.ok and "*LACC-007*" in reply.text
    assert [g["analyte"] for g in reply.grades] == ["anc", "plt"]


def test_a_missing_or_malformed_study_id_is_named(say):
    _refused(say("lab ANC 0.4"), "'ANC' is not a study ID", "LACC-007")
    _refused(say("calendar"), "no study ID given")
    _refused(say("lab LACC007 ANC 0.4"), "'LACC007' is not a study ID")
    _refused(say("lab LACC-070 ANC 0.4"), "no patient LACC-070 is enrolled", "LACC-007")


def test_quoted_values_keep_their_spaces_and_typographic_quotes_work(say):
    reply = say(f'dose {say.sid} cisplatin held reason="ANC 0.9, repeat on Monday"')
    assert reply.ok and "ANC 0.9, repeat on Monday" in reply.text
    curly = say(f"dose {say.sid} paclitaxel skipped reason=“not in this phase”")
    assert curly.ok and "not in this phase" in curly.text


def test_an_unclosed_quote_is_refused_not_guessed(say):
    before = say.counts()
    _refused(say(f'dose {say.sid} cisplatin reason="forgot to close'), "close the quote")
    assert say.counts() == before


def test_an_option_given_twice_is_refused(say):
    _refused(say(f"lab {say.sid} ANC 0.4 date=2027-03-04 DATE=2027-03-03"), "'date' is given twice")


def test_an_unknown_option_gets_the_closest_and_the_list(say):
    _refused(
        say(f"lab {say.sid} ANC 0.4 irea=yes"),
        "unknown option 'irea='",
        "did you mean 'irae'?",
        "date=, irae=, symptomatic=",
    )


def test_words_nobody_reads_are_refused(say):
    _refused(say(f"patient {say.sid} please"), "did not understand 'please'")
    _refused(say("whoami now"), "did not understand 'now'")


# --- dates -------------------------------------------------------------------------------
def test_dates_default_to_today_at_the_site_and_take_today_and_yesterday(say):
    assert "Fri 05 Mar 2027" in say(f"lab {say.sid} ANC 2.0").text
    assert "Thu 04 Mar 2027" in say(f"lab {say.sid} PLT 200 date=yesterday").text
    assert "Fri 05 Mar 2027" in say(f"lab {say.sid} Hb 12 date=TODAY").text


def test_today_follows_the_site_timezone(say):
    say.at(5, hour=1)  # 01:00 on Sat 06 Mar in Shanghai is still Friday in UTC
    assert "Sat 06 Mar 2027" in say(f"lab {say.sid} ANC 2.0").text


@pytest.mark.parametrize("value", ["2027-3-4", "04/03/2027", "2027-02-30", "tomorrow"])
def test_a_bad_date_names_the_key_and_the_forms_accepted(say, value):
    _refused(say(f"lab {say.sid} ANC 0.4 date={value}"), "date:", "YYYY-MM-DD, today or yesterday")


def test_a_future_date_is_refused(say):
    _refused(say(f"lab {say.sid} ANC 0.4 date=2027-03-08"), "is in the future")


# --- yes/no and numbers ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "shown"),
    [("yes", "yes"), ("Y", "yes"), ("true", "yes"), ("no", "no"), ("n", "no"), ("FALSE", "no")],
)
def test_yes_no_words(say, value, shown):
    assert f"immune-related: {shown}" in say(f"lab {say.sid} ALT 30 irae={value}").text


def test_irae_unknown_only_where_it_makes_sense(say):
    assert "not yet attributed" in say(f"ae {say.sid} diarrhoea grade=1 irae=unknown").text
    _refused(say(f"lab {say.sid} ALT 30 irae=unknown"), "irae:", "allowed: yes, no)")
    _refused(say(f"ae {say.sid} diarrhoea grade=1 irae=maybe"), "irae:", "yes, no, unknown")


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("mg=abc", "mg: 'abc' is not a number"),
        ("mg=nan", "mg: 'nan' is not a number"),
        ("mg=1e3", "mg: '1e3' is not a number"),
        ("mg=0", "mg: 0 is too small"),
        ("mg=2500", "mg: 2500 is too large"),
    ],
)
def test_numbers_are_checked_and_the_key_named(say, option, expected):
    # mg=0 passes the number check (low bound 0) but the service refuses a zero dose
    reply = say(f"dose {say.sid} cisplatin {option}")
    assert not reply.ok
    if option == "mg=0":
        assert "mg" in reply.error
    else:
        _refused(reply, expected)


@pytest.mark.parametrize("grade", ["2.5", "-1", "6", "two"])
def test_a_grade_is_a_whole_number_from_0_to_5(say, grade):
    _refused(say(f"ae {say.sid} diarrhoea grade={grade}"), "grade:", "0–5")


# --- lab -------------------------------------------------------------------------------------
def test_lab_values_as_options_keep_their_units_and_ranges(say):
    reply = say(f"lab {say.sid} ALT=130 U/L (7-40) Hb=102 g/L")
    grades = {g["analyte"]: g for g in reply.grades}
    assert grades["alt"]["range_source"] == "report" and grades["alt"]["grade"] == 2
    assert grades["hb"]["value"] == 10.2 and grades["hb"]["unit"] == "g/dL"
    assert "ALT 130 U/L (3.25×ULN) — Alanine aminotransferase increased *grade 2*" in reply.text


def test_each_grade_shows_term_grade_and_criterion(say):
    reply = say(f"lab {say.sid} ANC 0.4 PLT 62 AMY 300")
    assert "ANC 0.4 ×10^9/L — Neutrophil count decreased *grade 4*: <500/mm3" in reply.text
    assert "AMY 300 U/L (2.222×ULN) — Serum amylase increased *grade 2*" in reply.text
    assert "note: signs or symptoms not stated" in reply.text


def test_a_bad_lab_token_is_named_by_the_panel_parser(say):
    before = say.counts()
    _refused(say(f"lab {say.sid} ANC 0.4 PTL 62"), "PTL")
    _refused(say(f"lab {say.sid}"), "no lab values given")
    assert say.counts() == before


# --- ae --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("words", "term"),
    [
        ("rash maculo-papular", "Rash maculo-papular"),
        ("infusion related reaction", "Infusion related reaction"),
        ('"Infusion related reaction"', "Infusion related reaction"),
        ("diarrhoea", "Diarrhea"),
    ],
)
def test_ae_terms_of_several_words(say, words, term):
    reply = say(f"ae {say.sid} {words} grade=1 irae=no")
    assert reply.ok and f"*{term} grade 1*" in reply.text
    assert "Grade 1:" in reply.text  # what the grade means for this term


def test_an_ae_typo_gets_the_closest_term(say):
    _refused(
        say(f"ae {say.sid} pneumonitiz grade=2"),
        "unknown term 'pneumonitiz' — did you mean 'Pneumonitis'?",
    )


def test_an_ae_grade_typed_as_a_word_gets_a_hint(say):
    _refused(say(f"ae {say.sid} pneumonitis 2"), "grade= is missing", "'pneumonitis grade=2'")
    _refused(say(f"ae {say.sid} colitis grade 3"), "'colitis grade=3'")


def test_a_grade_the_term_does_not_have_is_refused(say):
    before = say.counts()
    _refused(say(f"ae {say.sid} alopecia grade=3"), "Alopecia", "grade 3")
    assert say.counts() == before


def test_grade_0_records_resolution(say):
    reply = say(f"ae {say.sid} pneumonitis grade=0")
    assert reply.ok and "*Pneumonitis grade 0*" in reply.text


# --- dose ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("words", "status"),
    [("", "given"), ("given", "given"), ("held", "held"), ("SKIPPED", "skipped"), ("hold", "held")],
)
def test_dose_status_words(say, words, status):
    reply = say(f"dose {say.sid} {words} cisplatin")
    assert reply.ok and f"cisplatin *{status}*" in reply.text


def test_dose_status_once(say):
    _refused(say(f"dose {say.sid} cisplatin held status=skipped"), "the status is given twice")
    _refused(say(f"dose {say.sid} cisplatn"), "did you mean cisplatin?")
    _refused(say(f"dose {say.sid}"), "say which drug or treatment")


# --- decisions -------------------------------------------------------------------------------
def test_confirm_override_and_attribute_take_bare_numbers_too(say):
    lab = say(f"lab {say.sid} ANC 0.4 ALT 130 U/L (7-40)")
    decisions = {d["drug"]: d for d in lab.decisions}
    number = decisions["cisplatin"]["id"].removeprefix("D")
    assert say(f"confirm {number}", user=say.doctor).ok
    trigger = decisions["toripalimab"]["trigger"]
    attributed = say(f"attribute {trigger.lower()} no", user=say.doctor)
    assert attributed.ok and "not immune-related" in attributed.text


def test_override_needs_its_reason_in_reason(say):
    decision = say(f"lab {say.sid} ANC 0.4").decisions[0]["id"]
    _refused(say(f"override {decision}", user=say.doctor), "an override needs a reason")
    _refused(
        say(f"override {decision} repeat was fine", user=say.doctor),
        'reason="repeat was fine"',
    )
    done = say(f'override {decision} reason="repeat was fine"', user=say.doctor)
    assert done.ok and "overridden" in done.text and "repeat was fine" in done.text
    _refused(say(f"confirm {decision}", user=say.doctor), "already overridden")


# --- correct and void -------------------------------------------------------------------------
def _entry(reply) -> str:
    """The E… id of the entry a reply recorded (its header: '*SID* · kind E12 of …')."""
    return next(word for word in reply.text.split() if word[0] == "E" and word[1:].isdigit())


def test_correct_a_lab_value_changes_only_that_analyte(say):
    entry = _entry(say(f"lab {say.sid} ANC 0.4 PLT 62"))
    corrected = say(f'correct {entry} ANC 0.6 reason="typo: 0.6 not 0.4"')
    assert corrected.ok, corrected.error
    assert "withdrawn (derived from the old entry)" in corrected.text
    view = say(f"patient {say.sid}").text
    assert "ANC 0.6, PLT 62" in view or "PLT 62, ANC 0.6" in view


def test_correct_reads_words_as_the_entry_was_written(say):
    dose = _entry(say(f"dose {say.sid} cisplatin"))
    assert say(f'correct {dose} held reason="was postponed"').ok
    response = _entry(say(f"response {say.sid} SD"))
    assert say(f'correct {response} PR reason="read again"').ok
    ae = _entry(say(f"ae {say.sid} diarrhoea grade=2 irae=no"))
    assert say(f'correct {ae} colitis grade=3 reason="re-graded"').ok
    view = say(f"patient {say.sid}").text
    assert "RECIST PR" in view and "Colitis grade 3" in view and "cisplatin held" in view


def test_correct_the_enrolment(say):
    reply = say('correct E1 bsa=1.7 fractions=28 reason="re-measured; plan changed"')
    assert reply.ok, reply.error
    assert "28 EBRT fractions" in say(f"patient {say.sid}").text


def test_correct_refuses_what_the_entry_does_not_have(say):
    entry = _entry(say(f"lab {say.sid} ANC 0.4"))
    _refused(say(f'correct {entry} grade=2 reason="x"'), "a lab entry has no grade to correct")
    dose = _entry(say(f"dose {say.sid} cisplatin"))
    _refused(say(f'correct {dose} ALT=50 reason="x"'), "ALT= is a lab value", "dose entry")
    _refused(say(f"correct {dose} skipped"), "a correction needs a reason")
    _refused(say('correct E999 held reason="x"'), "there is no entry E999")


def test_void_withdraws_the_entry_and_its_open_decisions(say):
    lab = say(f"lab {say.sid} ANC 0.4")
    entry, decision = _entry(lab), lab.decisions[0]["id"]
    voided = say(f'void {entry} reason="wrong patient"')
    assert voided.ok and decision in voided.text
    assert say("decisions", user=say.doctor).decisions == []
    _refused(say('void E1 reason="x"'), "an enrolment cannot be voided")


# --- help --------------------------------------------------------------------------------------
def test_help_lab_shows_aliases_units_and_an_example(say):
    text = say("help lab").text
    assert "neut" in text and "gpt" in text  # aliases
    assert "g/L" in text and "µmol/L" in text  # units
    assert "`/trial lab LACC-007 ANC 0.4 PLT 62 Hb 9.1`" in text  # an example
    assert "coordinator or above" in text


def test_help_on_every_subcommand_and_on_roles(say):
    from bot.commands import build_registry

    for command in build_registry():
        reply = say(f"help {command.name}", user=say.viewer)
        # the examples name the loaded trial's drugs and study-ID shape
        shown = command.for_trial(say.ctx)
        example = shown.examples[0]
        assert reply.ok and shown.usage in reply.text and example in reply.text
    assert "investigator — also decide" in say("help roles").text
    _refused(say("help labb"), "no help on 'labb'", "did you mean 'help lab'?")
