"""What looks like protected health information in free text, and the study ID rules.

trialbot keeps study IDs only. Every free-text value a person types (a reason, an adverse
event's term, a lab panel, a stage, a site, a screening answer) is checked before it is
stored, audited or posted, and refused with the reason when it looks like:

- **a medical record number** — `MRN`, `record no`, `hospital number`, `patient ID`, 住院号,
  病历号, 门诊号, 病案号 … followed by a number;
- **a national identity number** — China's 18-character resident identity number (six
  digits of region, the birth date, three digits, and the ISO 7064 MOD 11-2 check
  character, digit or X; checked), the older 15-digit form, a US social security number
  (`123-45-6789`), or `身份证`, `ID card`, `passport`, `SSN` … followed by a number;
- **a phone number** — a Chinese mobile number (11 digits starting 13–19, with or without
  spaces or dashes), a landline with its area code (`010-12345678`), an international
  number (`+86 …`), or `tel`, `phone`, `mobile`, 电话, 手机 … followed by a number;
- **an e-mail address**;
- **a date of birth** — `DOB`, `born`, `date of birth`, `birthday`, 出生, 生日 …, or a full
  date before 2000 (no date of this trial is that old: such a date is a birth date);
- **a long number** — any run of 8 or more digits (whatever else it is, it is no lab
  value, dose or study ID, and it could be any of the above).

The checks run on the text after the width folding of `bot.inputs` (a full-width
`ＭＲＮ １２３４５６７８` is caught too) and look only for shapes, never for names — a name
cannot be told from a word, so the rule stays: study IDs only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.errors import UserError

# "<word> [no/number/#/id] [:] <number>" — for words that are a record number by
# themselves (MRN, 住院号) the marker is optional; for ordinary words (patient, hospital,
# case) it is required, so "patient 2 days later" stays free text.
_MARKER = r"\s*(?:no\.?|number|num|nr|#|id)\s*[:#=.]?\s*[A-Z]{0,3}[-\s]?[0-9]"
_OPTIONAL_MARKER = r"\s*(?:no\.?|number|num|nr|#|id)?\s*[:#=.]?\s*[A-Z]{0,3}[-\s]?[0-9]"
_RECORD = re.compile(
    r"(?:\b(?:mrn|hn|pid|medical\s+records?)\b|住院号|病历号|门诊号|病案号|就诊卡号|医保卡号|病历)"
    + _OPTIONAL_MARKER
    + r"|\b(?:mr|records?|hospital|patient|chart|case|admission|inpatient|outpatient)\b"
    + _MARKER,
    re.IGNORECASE | re.ASCII,
)
_RECORD_GLUED = re.compile(r"\b(?:MRN|MR|HN|PID)[-#:]?[0-9]{3,}", re.IGNORECASE | re.ASCII)
_NATIONAL = re.compile(
    r"(?:\b(?:ssn|social\s+security|national\s+id|id\s+card|identity\s+card|passport|nric)\b"
    r"|身份证号?|证件号)" + _OPTIONAL_MARKER,
    re.IGNORECASE | re.ASCII,
)
_RESIDENT_ID = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx])(?![0-9A-Za-z])", re.ASCII)
_RESIDENT_ID_OLD = re.compile(r"(?<![0-9])[1-9][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])[0-9]{5}(?![0-9])")
_SSN = re.compile(r"(?<![0-9])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9][\s-]?[0-9]{4}[\s-]?[0-9]{4}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])0[0-9]{2,3}[\s-][0-9]{7,8}(?![0-9])")
_INTERNATIONAL = re.compile(r"\+[0-9]{1,3}[\s-]?(?:[0-9][\s-]?){6,14}[0-9]")
_PHONE_WORD = re.compile(
    r"(?:\b(?:tel|telephone|phone|mobile|cell|fax|contact)\b|电话|手机|联系方式)"
    r"\s*(?:no\.?|number|#)?\s*[:#=.]?\s*\+?[0-9]",
    re.IGNORECASE | re.ASCII,
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_BIRTH_WORD = re.compile(
    r"(?:\b(?:dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|birthday)\b|出生|生日"
    rf"|\bborn\s+(?:on\s+|in\s+)?(?:[0-9]|{_MONTHS}\b))",
    re.IGNORECASE | re.ASCII,
)
_LONG_NUMBER = re.compile(r"[0-9]{8,}")
# Numeric dates: one separator throughout (or 年 月 日), a real month and day, and no digit
# or decimal point around — so a reference range such as "(1800.0-6300.0)" is no date.
_NUMERIC_OLD_DATES = (
    (re.compile(r"(?<![0-9.])(1[89][0-9]{2})\s*([-/.])\s*([0-9]{1,2})\s*\2\s*([0-9]{1,2})(?![0-9.])"),
     (1, 3, 4)),
    (re.compile(r"(?<![0-9.])(1[89][0-9]{2})\s*年\s*([0-9]{1,2})\s*月\s*([0-9]{1,2})"), (1, 2, 3)),
    (re.compile(r"(?<![0-9.])([0-9]{1,2})([-/.])([0-9]{1,2})\2(1[89][0-9]{2})(?![0-9.])"),
     (4, 3, 1)),
)  # fmt: skip
_WORDED_OLD_DATES = (
    re.compile(rf"\b[0-9]{{1,2}}\s+{_MONTHS}\.?,?\s+1[89][0-9]{{2}}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTHS}\.?\s+[0-9]{{1,2}}(?:st|nd|rd|th)?,?\s+1[89][0-9]{{2}}\b", re.I),
)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def _real_date(year: str, month: str, day: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def resident_id_valid(text: str) -> bool:
    """Whether `text` is a well-formed Chinese resident identity number (GB 11643): 17
    digits, a real birth date at positions 7–14, and the MOD 11-2 check character."""
    if not re.fullmatch(r"[0-9]{17}[0-9Xx]", text):
        return False
    try:
        date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(text[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == text[17].upper()


@dataclass(frozen=True)
class Finding:
    what: str  # "a medical record number", …
    shown: str  # the matching text, masked for the message

    def __str__(self) -> str:
        return f"{self.what} ({self.shown})"


def _mask(text: str) -> str:
    """`12345678` → `12…78`: the message says where, without repeating it."""
    text = text.strip()
    return text if len(text) <= 4 else f"{text[:2]}…{text[-2:]}"


def find_phi(text: str) -> Finding | None:
    """The first thing in `text` that looks like protected health information, or None."""
    for pattern, what in (
        (_EMAIL, "an e-mail address"),
        (_RECORD_GLUED, "a medical record number"),
        (_RECORD, "a medical record number"),
        (_NATIONAL, "a national identity number"),
        (_PHONE_WORD, "a phone number"),
        (_BIRTH_WORD, "a date of birth"),
    ):
        match = pattern.search(text)
        if match:
            return Finding(what, _mask(match.group(0)))
    for match in _RESIDENT_ID.finditer(text):
        if resident_id_valid(match.group(1)):
            return Finding("a Chinese resident identity number", _mask(match.group(1)))
    for pattern, what in (
        (_SSN, "a national identity number"),
        (_MOBILE, "a phone number"),
        (_LANDLINE, "a phone number"),
        (_INTERNATIONAL, "a phone number"),
        (_RESIDENT_ID_OLD, "a national identity number"),
    ):
        match = pattern.search(text)
        if match:
            return Finding(what, _mask(match.group(0)))
    for pattern, (year, month, day) in _NUMERIC_OLD_DATES:
        for match in pattern.finditer(text):
            if _real_date(match.group(year), match.group(month), match.group(day)):
                return Finding("a date of birth (a full date before 2000)", match.group(0))
    for pattern in _WORDED_OLD_DATES:
        match = pattern.search(text)
        if match:
            return Finding("a date of birth (a full date before 2000)", match.group(0))
    match = _LONG_NUMBER.search(text)
    if match:
        return Finding("a record, ID or phone number (8 or more digits)", _mask(match.group(0)))
    return None


def check_no_phi(text: str, field: str) -> None:
    """Refuse `text` (a free-text value of `field`) if it looks like PHI."""
    found = find_phi(text)
    if found is not None:
        raise UserError(
            f"looks like {found}; trialbot keeps study IDs only — no names, record "
            "numbers, ID or phone numbers, e-mail addresses or birth dates",
            field=field,
            allowed="the text without it",
        )


# --- study IDs at enrolment ---------------------------------------------------------------
# What a study-ID pattern in the rules must refuse (checked by `trialbot rules check`):
# a name with a birth year, a record number, a bare date, a resident ID.
PHI_LIKE_IDS = ("SMITHJ-1975", "MRN1234567-1", "JANEDOE-01", "19750312", "MRN-12345678")


def study_id_problem(study_id: str) -> str | None:
    """Why an (already pattern-checked) study ID looks like something else, or None."""
    number = study_id.rpartition("-")[2]
    if find_phi(study_id) is not None or _RECORD_GLUED.search(study_id):
        return "it looks like a record number"
    if re.fullmatch(r"(?:19|20)[0-9]{2}", number):
        return "its number looks like a year (of birth?)"
    if len(number) >= 6:
        try:
            if len(number) == 8:
                date(int(number[:4]), int(number[4:6]), int(number[6:]))
                return "its number looks like a date"
        except ValueError:
            pass
        return "its number looks like a record number"
    return None
