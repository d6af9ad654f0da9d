"""Personal data at rest (recoup.store.crypto): deterministic AES-SIV under the data key."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recoup.store import crypto
from recoup.store.crypto import DataKeyError, decrypt, encrypt

OTHER_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()


@pytest.fixture(autouse=True)
def environment_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("RECOUP_DATA_KEY", raising=False)
    monkeypatch.delenv("RECOUP_ENV", raising=False)
    crypto.set_data_key(None)
    yield
    crypto.set_data_key(None)


@given(st.text(max_size=400))
def test_encrypt__any_text_comes_back_from_its_stored_form(text: str) -> None:
    stored = encrypt(text)
    assert stored.startswith("enc2:")
    assert decrypt(stored) == text
    assert len(stored) <= crypto.stored_length(len(text))


def test_encrypt__is_deterministic_so_equal_values_can_be_looked_up() -> None:
    assert encrypt("+8613800138000") == encrypt("+8613800138000")
    assert encrypt("+8613800138000") != encrypt("+8613800138001")
    assert encrypt("+8613800138000", OTHER_KEY) != encrypt("+8613800138000")


def test_encrypt__the_stored_form_shows_nothing_of_the_text() -> None:
    stored = encrypt("+8613800138000")
    assert "138" not in stored and "8000" not in stored


def test_decrypt__a_value_stored_before_encryption_reads_as_it_is() -> None:
    assert decrypt("+8613800138000") == "+8613800138000"
    assert decrypt("") == ""


def test_decrypt__an_altered_stored_value_is_refused() -> None:
    stored = encrypt("张三")
    sealed = bytearray(base64.urlsafe_b64decode(stored.removeprefix("enc2:")))
    sealed[-1] ^= 1
    tampered = "enc2:" + base64.urlsafe_b64encode(bytes(sealed)).decode()
    with pytest.raises(DataKeyError, match="altered"):
        decrypt(tampered)
    with pytest.raises(DataKeyError):
        decrypt("enc2:not base64!")


def test_decrypt__another_key_cannot_read_the_value() -> None:
    stored = encrypt("张三")
    with pytest.raises(DataKeyError, match="another key"):
        decrypt(stored, OTHER_KEY)
    crypto.set_data_key(OTHER_KEY)
    with pytest.raises(DataKeyError):
        decrypt(stored)


def test_data_key__comes_from_the_environment_else_the_development_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert crypto.data_key() == crypto.DEVELOPMENT_DATA_KEY
    monkeypatch.setenv("RECOUP_DATA_KEY", OTHER_KEY)
    assert crypto.data_key() == crypto.DEVELOPMENT_DATA_KEY  # read once, at the first use
    crypto.set_data_key(None)
    assert crypto.data_key() == OTHER_KEY
    assert encrypt("x") == encrypt("x", OTHER_KEY)


def test_data_key__production_refuses_to_fall_back_to_the_development_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECOUP_ENV", "production")
    with pytest.raises(DataKeyError, match="production"):
        encrypt("x")


@pytest.mark.parametrize("key", ["", "short", base64.urlsafe_b64encode(b"x" * 31).decode(), "é"])
def test_set_data_key__a_malformed_key_is_refused_with_how_to_make_one(key: str) -> None:
    with pytest.raises(DataKeyError, match="32 random bytes"):
        crypto.set_data_key(key)
