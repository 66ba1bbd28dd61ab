"""Tokens and keys in one place (services/keys.py): every purpose keeps the key it always had."""

import base64
import hashlib
import hmac

from shop.services import keys


def test_a_token_is_stored_only_as_its_hash():
    token, hashed = keys.new_token()
    assert len(token) >= 43 and hashed == hashlib.sha256(token.encode()).hexdigest() == keys.token_hash(token)
    assert token not in hashed and keys.new_token()[0] != token


def test_each_purpose_has_its_own_key_and_keeps_its_derivation(app):
    with app.app_context():
        secret = app.config["SECRET_KEY"].encode()
        # The derivations stored data depends on: changing one would make it unreadable.
        assert keys.derived_key("eligibility-code") == hmac.new(secret, b"eligibility-code", hashlib.sha256).digest()
        assert keys.derived_key("totp-secret") == hashlib.sha256(b"solidarity-shop totp-secret\0" + secret).digest()
        assert keys.derived_key("recovery-code") == hashlib.sha256(b"solidarity-shop recovery-code\0" + secret).digest()
        derived = {keys.derived_key(p) for p in keys._DERIVATIONS}
        assert len(derived) == len(keys._DERIVATIONS)
        assert all(len(k) == 32 for k in derived)
        base64.urlsafe_b64encode(keys.derived_key("totp-secret"))  # a Fernet key
        assert keys.keyed_hash("recovery-code", "7:abc") == hmac.new(
            keys.derived_key("recovery-code"), b"7:abc", hashlib.sha256).hexdigest()
