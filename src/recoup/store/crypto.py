"""Personal data encrypted at rest: borrowers' names, contact points and recipients.

The key comes from the environment (``RECOUP_DATA_KEY``: URL-safe base64 of 32 random
bytes). When it is unset the published development key below is used; the workbench refuses
that key in production (``recoup.web.settings``), and so does this module when
``RECOUP_ENV=production``.

The encryption is **deterministic** authenticated encryption, AES-SIV (RFC 5297) with a
512-bit key derived from the data key by HKDF-SHA256: the same text always gives the same
stored text. That is a deliberate trade-off. The store looks contact points up by value (an
outcome reported to a phone number, an inbound SMS from a number, the importer's
de-duplication) and keeps ``(borrower_key, kind, value)`` unique, which only works if equal
plain values are equal stored values. The price is that equality leaks: someone reading the
raw tables can see that two rows hold the same phone number, though not which number. AES-SIV
is built for exactly this use (it stays secure when nonces repeat) and authenticates every
value, so an edited or swapped-in ciphertext, or one written under another key, is refused
with :class:`DataKeyError` rather than read as garbage.

Stored form: ``"enc2:" + urlsafe_b64(SIV tag + ciphertext)``. A stored value without the
prefix is read as plain text, so a store written before encryption keeps working until its
migration (``0011``) encrypts it in place.

:class:`EncryptedText` is a SQLAlchemy type that encrypts bound values and decrypts results,
so Core statements (inserts, updates, ``where(column == value)``, results) need no change;
``recoup.store.bulk`` applies the same functions to the frames it moves past SQLAlchemy.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

#: The development key: public (it is in the source), so production refuses it.
DEVELOPMENT_DATA_KEY = "cmVjb3VwLWRldmVsb3BtZW50LWtleS1wdWJsaWMhISE="
DATA_KEY_VARIABLE = "RECOUP_DATA_KEY"
PREFIX = "enc2:"

# Changing this string changes every stored value: it names the derived key's purpose.
_HKDF_INFO = b"recoup personal data at rest: AES-SIV-512 v2"
_SIV_TAG_BYTES = 16


class DataKeyError(ValueError):
    """The data key is missing or malformed, or a stored value does not decrypt with it."""


@lru_cache(maxsize=8)
def _cipher(key: str) -> AESSIV:
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(raw) != 32:
        raise DataKeyError(
            f"{DATA_KEY_VARIABLE} must be 32 random bytes in URL-safe base64 "
            "(make one with `recoup serve --new-data-key`)"
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=_HKDF_INFO).derive(raw)
    return AESSIV(derived)


_key: str | None = None  # set, or read from the environment at the first use


def new_data_key() -> str:
    """A new random data key (32 bytes, URL-safe base64), for ``RECOUP_DATA_KEY``."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def set_data_key(key: str | None) -> None:
    """Use ``key`` from now on; ``None`` reads the environment's key again at the next use."""
    global _key
    if key is not None:
        _cipher(key)  # a malformed key is refused here, not at the first write
    _key = key


def data_key() -> str:
    """The key in force: the one set with :func:`set_data_key`, else ``RECOUP_DATA_KEY``,
    else the development key (refused when ``RECOUP_ENV=production``)."""
    global _key
    if _key is None:
        key = os.environ.get(DATA_KEY_VARIABLE, "")
        if not key and os.environ.get("RECOUP_ENV") == "production":
            raise DataKeyError(
                f"RECOUP_ENV=production needs its own {DATA_KEY_VARIABLE} (the development "
                "key is public): generate one with `recoup serve --new-data-key`"
            )
        set_data_key(key or DEVELOPMENT_DATA_KEY)
        assert _key is not None
    return _key


def encrypt(text: str, key: str | None = None) -> str:
    """The stored form of ``text``: always the same for the same text and key."""
    sealed = _cipher(key or data_key()).encrypt(text.encode("utf-8"), None)
    return PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii")


def decrypt(stored: str, key: str | None = None) -> str:
    """The plain text of a stored value (a value stored before encryption passes as is)."""
    if not stored.startswith(PREFIX):
        return stored
    cipher = _cipher(key or data_key())
    try:
        sealed = base64.urlsafe_b64decode(stored[len(PREFIX) :].encode("ascii"))
        return cipher.decrypt(sealed, None).decode("utf-8")
    except (InvalidTag, binascii.Error, UnicodeError, ValueError):
        raise DataKeyError(
            f"a stored personal-data value does not decrypt with this {DATA_KEY_VARIABLE}: "
            "it was written under another key, or altered"
        ) from None


def stored_length(plain_chars: int) -> int:
    """The longest stored form of a text of ``plain_chars`` characters (4 UTF-8 bytes each)."""
    sealed = 4 * plain_chars + _SIV_TAG_BYTES
    return len(PREFIX) + 4 * -(-sealed // 3)


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted (see the module's docstring).

    ``length`` is the longest plain text, in characters; the column is as wide as its
    longest stored form. On SQLite, which never enforces a declared length, the column
    keeps declaring the plain length, so that encrypting an existing store does not have to
    rebuild its tables (a rebuild of ``borrowers`` would break the foreign keys to it).
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(stored_length(length))
        self.plain_length = length
        self.length = stored_length(length)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.plain_length))
        return dialect.type_descriptor(String(self.length))

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)

    @property
    def python_type(self) -> type[str]:
        return str
