"""tokenwatch's tfp1 credential fingerprint, for producers that write canonical access events
(DESIGN §2) from Python:

    "tfp1:" + first 22 chars of base64url(HMAC-SHA-256(key, credential))

where credential is the raw value (UTF-8) without a leading case-insensitive "Bearer" scheme,
trimmed of JavaScript white space (the set String.prototype.trim removes, which is not
str.strip(): U+FEFF is white space, U+0085 and U+001C are not). Same as tokenwatch's
schemas/fingerprint.ts; checked against gateway/vectors.json. Standard library only; copy this file.

    >>> fingerprint("Bearer abc", "0123456789abcdef")  # doctest: +ELLIPSIS
    'tfp1:...'
"""
import base64
import hashlib
import hmac
import re

PREFIX = "tfp1:"
MIN_KEY_BYTES = 16

_WS = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_TRIM = re.compile(f"^[{_WS}]+|[{_WS}]+\\Z")
_SCHEME = re.compile(f"^[Bb][Ee][Aa][Rr][Ee][Rr](?:[{_WS}]+|\\Z)")


class Tfp1Error(ValueError):
    """The key is too short (code "short_key") or the credential is empty ("empty_credential")."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _trim(s: str) -> str:
    return _TRIM.sub("", s)


def strip_scheme(credential: str) -> str:
    """Removes surrounding white space and a leading case-insensitive "Bearer" scheme."""
    return _trim(_SCHEME.sub("", _trim(credential), count=1))


def fingerprint(credential: str, key) -> str:
    """The tfp1 fingerprint of a raw credential; key is str (UTF-8) or bytes, at least 16 bytes."""
    k = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(k) < MIN_KEY_BYTES:
        raise Tfp1Error("short_key", "TOKENWATCH_FP_KEY must be at least 16 bytes")
    value = strip_scheme(credential)
    if value == "":
        raise Tfp1Error("empty_credential", "credential is empty")
    digest = hmac.new(k, value.encode("utf-8"), hashlib.sha256).digest()
    return PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")[:22]


if __name__ == "__main__":
    import os
    import sys

    key = os.environ.get("TOKENWATCH_FP_KEY", "")
    for line in sys.stdin:
        print(fingerprint(line.rstrip("\n"), key))
