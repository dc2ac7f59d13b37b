"""Study IDs only: free text that looks like a record number, a national ID (China's
resident ID with its check character), a phone number, an e-mail address or a date of
birth is refused with the reason, on every free-text field, and nothing of it is stored,
audited or posted; enrolment takes only the site's numbering."""

from __future__ import annotations

import pytest

from bot.phi import find_phi, resident_id_valid, study_id_problem

PHI = {
    "Jane Doe, MRN 12345678, DOB 1975-03-12": "a medical record number",
    "MRN1234567": "a medical record number",
    "住院号 123456": "a medical record number",
    "病历号:A12345": "a medical record number",
    "hospital number: 998877": "a medical record number",
    "11010519491231002X": "a Chinese resident identity number",
    "身份证 110105": "a national identity number",
    "123-45-6789": "a national identity number",
    "call 13812345678": "a phone number",
    "138 1234 5678": "a phone number",
    "tel 5551234": "a phone number",
    "+86 10 1234 5678": "a phone number",
    "010-12345678": "a phone number",
    "jane.doe@example.com": "an e-mail address",
    "DOB 12/03/75": "a date of birth",
    "born on 3 May 1975": "a date of birth",
    "1975/03/12": "a date of birth",
    "12/03/1975": "a date of birth",
    "March 12, 1975": "a date of birth",
    "1975年3月12日": "a date of birth",
    "ref 20270304123": "a record, ID or phone number",
}
FREE_TEXT = (
    "dose given elsewhere", "ANC 0.4 PLT 62 Hb 9.1", "ALT 130 U/L (7-40)",
    "typo: 0.6 not 0.4", "entered for the wrong patient", "plan changed to 28 fractions",
    "repeat on 2027-03-08", "PLT 150000 /uL", "grade 3 per Table 3, section 6.2",
    "patient declined", "patient 2 days later", "case discussed at tumour board",
    "cisplatin 40 mg/m2", "WBC 4.5 x10^9/L", "复查后恢复", "the patient's record shows no change",
    "ANC 499 /mm3 (1800.0-6300.0)", "ANC 1.5-1950 /uL", "1975-13-40 is no date",
)  # fmt: skip


@pytest.mark.parametrize("text", list(PHI))
def test_what_looks_like_phi_is_found(text):
    found = find_phi(text)
    assert found is not None and found.what.startswith(PHI[text]), (text, found)


@pytest.mark.parametrize("text", FREE_TEXT)
def test_ordinary_clinical_text_is_not_phi(text):
    assert find_phi(text) is None


def test_the_resident_id_check_character_is_checked():
    assert resident_id_valid("11010519491231002X")
    assert not resident_id_valid("110105194912310021")  # wrong check character
    assert not resident_id_valid("11010519491331002X")  # month 13
    # an 18-digit number with a wrong check character is still refused, as a long number
    assert find_phi("110105194912310021").what.startswith("a record, ID or phone number")


def test_full_width_phi_is_caught_too(say):
    reply = say('void E1 reason="ＭＲＮ １２３４５６７８"')
    assert not reply.ok and "medical record number" in reply.error


@pytest.mark.parametrize(
    "command",
    [
        'dose {sid} cisplatin held reason="patient Jane, tel 13812345678"',
        'void E2 reason="Jane Doe, MRN 12345678, DOB 1975-03-12"',
        'correct E2 ANC 0.5 reason="see jane@example.com"',
        'override D1 reason="ID 11010519491231002X"',
        "ae {sid} pneumonitis MRN 1234567 grade=2",
        'enroll LACC-010 start=2027-03-01 bsa=1.6 baseline="ALT 60 U/L (7-40) DOB 1975-03-12"',
        "enroll LACC-010 start=2027-03-01 bsa=1.6 stage=住院号12345",
    ],
)
def test_free_text_that_looks_like_phi_is_refused_and_nothing_is_written(say, command):
    assert say(f"lab {say.sid} ANC 0.4 PLT 62").ok  # E2, with a proposal D1
    before = say.counts()
    reply = say(command.format(sid=say.sid), user=say.doctor)
    assert not reply.ok and not reply.failed, reply.text
    assert "study IDs only" in reply.error and "looks like" in reply.error
    assert "12345678" not in reply.error and "13812345678" not in reply.error
    assert say.counts() == before


@pytest.mark.parametrize(
    "study_id",
    ["SMITHJ-1975", "MRN1234567-1", "JANEDOE-01", "LACC-1975", "LACC-20270301", "LACC-7"],
)
def test_enrolment_takes_only_the_site_numbering(say, study_id):
    before = say.counts()
    reply = say(f"enroll {study_id} start=2027-03-01 bsa=1.6")
    assert not reply.ok and reply.error.startswith("study_id:"), reply.error
    assert "study ID" in reply.error or "screening number" in reply.error
    assert say.counts() == before


def test_study_ids_that_look_like_something_else():
    assert study_id_problem("SMITHJ-1975") is not None
    assert study_id_problem("MRN1234567-1") is not None
    assert study_id_problem("LACC-007") is None


def test_posts_carry_only_checked_text(say):
    """An amendment's reason reaches the channel only after the checks."""
    assert say(f"lab {say.sid} ANC 0.4 PLT 62").ok
    reply = say('void E2 reason="entered for the wrong patient"')
    assert reply.ok
    assert any("entered for the wrong patient" in str(post) for post in reply.posts)
