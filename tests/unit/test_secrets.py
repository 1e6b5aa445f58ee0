"""Secrets: required outside development, generated once (owner-only) in development."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from core.secrets import MissingSecret, load_secrets, new_data_key, parse_data_keys, rotate_development_key
from core.settings import Settings
from storage import field_crypto
from storage.field_crypto import FieldCipher


def test_production_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    settings = Settings(environment="production", stack_dir=tmp_path, jwt_secret="x" * 40)
    with pytest.raises(MissingSecret, match="set CINESTREAM_DATA_KEYS, CINESTREAM_BLIND_INDEX_KEY"):
        load_secrets(settings)
    assert not (tmp_path / "secrets.json").exists()  # nothing generated behind the operator's back


def test_development_generates_them_once_readable_by_the_owner_only(tmp_path: Path) -> None:
    settings = Settings(stack_dir=tmp_path / "not" / "yet")
    first, again = load_secrets(settings), load_secrets(settings)
    assert first == again and len(first.data_keys[first.current_key]) == 32
    mode = stat.S_IMODE((tmp_path / "not" / "yet" / "secrets.json").stat().st_mode)
    assert mode == 0o600


def test_a_rotated_key_encrypts_and_the_old_one_still_decrypts(tmp_path: Path) -> None:
    settings = Settings(stack_dir=tmp_path)
    before = load_secrets(settings)
    old = field_crypto.cipher_of(before)
    stored = old.encrypt("email", "ada@example.org")
    new_kid = rotate_development_key(settings)
    after = load_secrets(settings)
    cipher = field_crypto.cipher_of(after)
    assert after.current_key == new_kid != before.current_key
    assert cipher.decrypt("email", stored) == "ada@example.org"
    assert cipher.key_id(cipher.encrypt("email", "ada@example.org")) == new_kid
    assert cipher.blind_index("Ada@Example.org ") == old.blind_index("ada@example.org")


def test_a_ciphertext_moved_to_another_field_does_not_decrypt(tmp_path: Path) -> None:
    keys, current = parse_data_keys(new_data_key())
    cipher = FieldCipher(keys, current, b"index")
    with pytest.raises(InvalidTag):
        cipher.decrypt("display_name", cipher.encrypt("email", "ada@example.org"))


def test_a_malformed_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(MissingSecret, match="'k1' is not 'kid:<base64 of 32 bytes>'"):
        parse_data_keys("k1:c2hvcnQ=")
