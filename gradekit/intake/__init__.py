"""Intake: files / zips / LMS names -> Submission (normalised notebook, static Name/CID).

    notebook.py  read_submission: one file -> Submission (never raises for bad input)
    identity.py  read_identity: Name / CID from the "Your details" cell, statically
    lms.py       expand_inputs: folders, notebooks, LMS bulk-download zips -> Intake (safe unzip)
    roster.py    read_roster / match_roster: the class list and the flags it gives
    flags.py     FLAG_TEXT: every flag intake may set, with a sentence for TAs
"""
from .flags import FLAG_TEXT
from .identity import read_identity
from .lms import (Intake, IntakeItem, LmsName, Refused, Skipped, ZipLimits, expand_inputs, parse_lms_name,
                  parse_receipt, read_item, refused_submission)
from .notebook import read_submission
from .roster import Roster, RosterEntry, match_roster, parse_roster, read_roster

__all__ = [
    "FLAG_TEXT", "Intake", "IntakeItem", "LmsName", "Refused", "Roster", "RosterEntry", "Skipped", "ZipLimits",
    "expand_inputs", "match_roster", "parse_lms_name", "parse_receipt", "parse_roster", "read_identity",
    "read_item", "read_roster", "read_submission", "refused_submission",
]
