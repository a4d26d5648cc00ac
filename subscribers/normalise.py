"""Address normalisation: one stored form per mailbox."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

MAX_EMAIL_LENGTH = 254


def normalise_email(value: str) -> str:
    """Trim, lowercase and IDNA-encode the domain; raise ValidationError if it is not an address.

    The local part keeps its case (a mailbox may be case-sensitive); comparisons
    elsewhere are case-insensitive on the whole address.
    """
    email = (value or "").strip()
    if not email:
        raise ValidationError("Enter an email address.", code="required")
    if any(ch in email for ch in "\r\n\x00"):
        raise ValidationError("An email address cannot contain line breaks.", code="invalid")
    local, sep, domain = email.rpartition("@")
    if not sep or not local or not domain:
        raise ValidationError(f"“{email[:80]}” is not an email address.", code="invalid")
    try:
        ascii_domain = domain.strip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValidationError(f"The domain “{domain[:80]}” is not a valid domain name.", code="invalid") from None
    email = f"{local}@{ascii_domain}"
    if len(email) > MAX_EMAIL_LENGTH:
        raise ValidationError(f"An email address can be at most {MAX_EMAIL_LENGTH} characters long.", code="too_long")
    validate_email(email)
    return email
