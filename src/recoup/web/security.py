"""Who may do what in the workbench, and how secrets and personal data are kept.

Pure: roles and their permissions, password hashes (Argon2id), token hashes, the masking of
personal data, and the encryption of sensitive fields with a key from the environment. The
store and the HTTP layer use these; nothing here reads a database or a request.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Role(enum.StrEnum):
    COLLECTOR = "collector"
    AGENCY_COLLECTOR = "agency_collector"
    TEAM_LEAD = "team_lead"
    STRATEGY_MANAGER = "strategy_manager"
    RISK_ANALYST = "risk_analyst"
    COMPLIANCE_OFFICER = "compliance_officer"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    READ_OWN_CASES = "read_own_cases"  # the cases allocated to the user (and their accounts)
    READ_ALL_ACCOUNTS = "read_all_accounts"
    CONTACT = "contact"  # check and log contacts, record promises, ask for concessions
    REVEAL_PERSONAL_DATA = "reveal_personal_data"
    POST_PAYMENTS = "post_payments"
    APPROVE = "approve"  # decide arrangement requests
    ASSIGN_CASES = "assign_cases"  # move a case to another collector or agency by hand
    MANAGE_STRATEGY = "manage_strategy"
    READ_MODELS = "read_models"
    READ_AUDIT = "read_audit"
    READ_REPORTS = "read_reports"
    MANAGE_USERS = "manage_users"
    HANDLE_COMPLAINTS = "handle_complaints"  # read every complaint, resolve complaints


P = Permission
#: What each role may do. Collectors (in house or at an agency) see only their own cases; the
#: others see the whole book. Revealing personal data is for those who contact borrowers or
#: audit it.
PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.COLLECTOR: frozenset({P.READ_OWN_CASES, P.CONTACT, P.REVEAL_PERSONAL_DATA}),
    Role.AGENCY_COLLECTOR: frozenset({P.READ_OWN_CASES, P.CONTACT, P.REVEAL_PERSONAL_DATA}),
    Role.TEAM_LEAD: frozenset(
        {
            P.READ_OWN_CASES,
            P.READ_ALL_ACCOUNTS,
            P.CONTACT,
            P.REVEAL_PERSONAL_DATA,
            P.APPROVE,
            P.ASSIGN_CASES,
            P.READ_REPORTS,
            P.POST_PAYMENTS,
            P.HANDLE_COMPLAINTS,
        }
    ),
    Role.STRATEGY_MANAGER: frozenset(
        {P.READ_ALL_ACCOUNTS, P.MANAGE_STRATEGY, P.READ_MODELS, P.READ_REPORTS}
    ),
    Role.RISK_ANALYST: frozenset({P.READ_ALL_ACCOUNTS, P.READ_MODELS, P.READ_REPORTS}),
    Role.COMPLIANCE_OFFICER: frozenset(
        {
            P.READ_ALL_ACCOUNTS,
            P.REVEAL_PERSONAL_DATA,
            P.READ_AUDIT,
            P.READ_REPORTS,
            P.HANDLE_COMPLAINTS,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}


def allowed(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


# --------------------------------------------------------------------------- passwords

_HASHER = PasswordHasher()  # Argon2id with the library's current recommended parameters
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A random password for a generated (demo) user: 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


# --------------------------------------------------------------------------- tokens


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keeps of a token: its SHA-256 (a stolen table gives no usable token)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# --------------------------------------------------------------------------- masking


def mask_phone(value: str) -> str:
    """``13812345678`` -> ``138****5678``; the country code and separators are kept."""
    digits = [i for i, c in enumerate(value) if c.isdigit()]
    if len(digits) < 7:
        return "*" * len(value)
    national = digits[-11:] if len(digits) >= 11 else digits
    hidden = set(national[3:-4])
    return "".join("*" if i in hidden else c for i, c in enumerate(value))


def mask_id_number(value: str) -> str:
    """An identity number keeps its first 3 and last 4 characters."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_email(value: str) -> str:
    name, at, domain = value.partition("@")
    if not at:
        return mask_id_number(value)
    return (name[:1] + "***" if name else "***") + "@" + domain


def mask_address(value: str) -> str:
    """An address keeps its first 6 characters (city, district) and hides the rest."""
    return value[:6] + "*" * max(len(value) - 6, 0) if len(value) > 6 else "*" * len(value)


def mask(kind: str, value: str) -> str:
    """The masked form of a contact point or identity field of ``kind``."""
    if kind in ("phone", "mobile", "sms", "call"):
        return mask_phone(value)
    if kind == "email":
        return mask_email(value)
    if kind == "address":
        return mask_address(value)
    return mask_id_number(value)
