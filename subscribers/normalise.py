"""Address and name normalisation: one stored form per mailbox, no header injection.

IDN domains are accepted and stored in their ASCII (punycode) form, encoded with
IDNA 2008 and the UTS #46 mapping (the ``idna`` package), because that is the
form mail servers and providers' APIs exchange and the one that compares
reliably: ``leser@Bücher.example`` and ``leser@xn--bcher-kva.example`` are one
reader. Python's built-in "idna" codec is IDNA 2003, which would turn
``straße.de`` into ``strasse.de`` (another domain), so it is not used.

A non-ASCII local part (SMTPUTF8) is refused with a message: many providers
and mailbox servers cannot deliver to it, so storing it would only produce
bounces.
"""

from __future__ import annotations

import unicodedata

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100

# Control characters (CR, LF, tab, NUL, C1 controls) and the Unicode line and
# paragraph separators: anything a mail header or a CSV cell could split on.
_REFUSED_IN_NAMES = {"Cc", "Zl", "Zp"}
# Angle brackets open and close markup: a name is greeted in HTML emails and
# shown in the admin, so "<a href=…>" must never be stored as a name. (Quotes
# and "&" stay allowed: O'Brien, "Bob", Tom & Jerry are names; escaping covers them.)
# The full-width forms are refused too: some renderers fold them to "<" and ">".
_MARKUP_IN_NAMES = frozenset("<>\uff1c\uff1e")


def _ascii_domain(domain: str) -> str:
    if domain.endswith("."):
        domain = domain[:-1]  # the fully qualified form "example.org." is the same domain
    if domain.isascii() and "xn--" not in domain.lower():
        return domain.lower()
    try:
        return idna.encode(domain, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        raise ValidationError(f"The domain “{domain[:80]}” is not a valid domain name.", code="invalid") from None


def normalise_email(value: str) -> str:
    """Trim, lowercase and IDNA-encode the domain; raise ValidationError if it is not an address.

    The local part keeps its case (a mailbox may be case-sensitive); comparisons
    elsewhere are case-insensitive on the whole address.
    """
    email = (value or "").strip()
    if not email:
        raise ValidationError("Enter an email address.", code="required")
    if any(unicodedata.category(ch) in _REFUSED_IN_NAMES for ch in email):
        raise ValidationError("An email address cannot contain line breaks or control characters.", code="invalid")
    if len(email) > MAX_EMAIL_LENGTH * 2:
        raise ValidationError(f"An email address can be at most {MAX_EMAIL_LENGTH} characters long.", code="too_long")
    local, sep, domain = email.rpartition("@")
    if not sep or not local or not domain:
        raise ValidationError(f"“{email[:80]}” is not an email address.", code="invalid")
    if not local.isascii():
        raise ValidationError(
            "Addresses with accented or non-Latin letters before the “@” are not supported.", code="invalid"
        )
    email = f"{local}@{_ascii_domain(domain)}"
    if len(email) > MAX_EMAIL_LENGTH:
        raise ValidationError(f"An email address can be at most {MAX_EMAIL_LENGTH} characters long.", code="too_long")
    validate_email(email)
    return email


def clean_name(value: str) -> str:
    """A reader's name as stored: trimmed, one line, at most MAX_NAME_LENGTH characters.

    Raises ValidationError for line breaks and control characters (a name ends
    up in email greetings and CSV exports), for the markup characters < and >
    (and their full-width forms), and for over-long names. One rule for the
    subscribe form, the preferences page, the admin and the CSV import.
    """
    name = (value or "").strip()
    if any(unicodedata.category(ch) in _REFUSED_IN_NAMES for ch in name):
        raise ValidationError("A name cannot contain line breaks or control characters.", code="invalid")
    if any(ch in _MARKUP_IN_NAMES for ch in name):
        raise ValidationError("A name cannot contain the characters < or >.", code="invalid")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"A name can be at most {MAX_NAME_LENGTH} characters long.", code="too_long")
    return name


def display_email(email: str) -> str:
    """The address as its owner writes it: an IDN domain back in Unicode (bücher.example, not xn--bcher-kva)."""
    local, sep, domain = email.rpartition("@")
    if not sep or "xn--" not in domain.lower():
        return email
    try:
        return f"{local}@{idna.decode(domain)}"
    except (idna.IDNAError, UnicodeError):
        return email


def search_ascii(term: str) -> str:
    """A search term with its IDN domain part in punycode, as addresses are stored; the term itself otherwise."""
    term = term.strip()
    local, sep, domain = term.rpartition("@")
    if domain.isascii():
        return term
    try:
        return f"{local}{sep}{idna.encode(domain, uts46=True).decode('ascii')}"
    except (idna.IDNAError, UnicodeError):
        return term
