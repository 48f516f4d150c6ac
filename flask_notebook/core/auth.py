"""Tokens, password hashes and anonymous identities. No requests or cookies here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from typing import Any

import orjson

from . import errors
from .models import Identity

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
#: The identity fields a user may change (``PATCH /api/me``), as jupyter_server's
#: ``PasswordIdentityProvider.updatable_fields``.
UPDATABLE_FIELDS = ("name", "display_name", "initials", "avatar_url", "color")
_NULLABLE_FIELDS = frozenset({"avatar_url", "color"})
#: The identity travels in the signed login cookie: past about 4 KB browsers drop a cookie,
#: and with it the login. 2 KB of JSON stays well under that once signed and encoded.
MAX_IDENTITY_BYTES = 2048
_MOONS = ["Adrastea", "Amalthea", "Callisto", "Carme", "Elara", "Europa", "Ganymede", "Himalia",
          "Io", "Leda", "Lysithea", "Metis", "Pasiphae", "Sinope", "Thebe", "Themisto"]


def new_token() -> str:
    """A random 48-hex-digit token, like jupyter_server's."""
    return secrets.token_hex(24)


def tokens_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def hash_password(password: str) -> str:
    """`scrypt:<n>:<r>:<p>$<salt>$<hash>`, for NOTEBOOK_PASSWORD."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt:{n}:{r}:{p}${salt}${digest}".format(
        salt=base64.b64encode(salt).decode(), digest=base64.b64encode(digest).decode(), **_SCRYPT
    )


def check_password(password: str, hashed: str) -> bool:
    """Whether `password` matches a hash from ``hash_password``. A malformed hash matches nothing."""
    try:
        scheme, salt_b64, digest_b64 = hashed.split("$")
        name, n, r, p = scheme.split(":")
        if name != "scrypt":
            return False
        salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        given = hashlib.scrypt(password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(digest))
    except ValueError:
        return False
    return hmac.compare_digest(given, digest)


def anonymous_identity() -> Identity:
    """A fresh identity for someone who logged in with the shared token."""
    username = uuid.uuid4().hex
    moon = _MOONS[int(username[:8], 16) % len(_MOONS)]
    return {
        "username": username,
        "name": f"Anonymous {moon}",
        "display_name": f"Anonymous {moon}",
        "initials": f"A{moon[0]}",
        "avatar_url": None,
        "color": None,
    }


def identity_for(user: object) -> Identity:
    """Turn what a host's `authorize` callable returned into an identity model."""
    if isinstance(user, dict):
        username = str(user.get("username") or user.get("name") or "user")
        name = str(user.get("name") or username)
        return {
            "username": username,
            "name": name,
            "display_name": str(user.get("display_name") or name),
            "initials": str(user.get("initials") or name[:1].upper()),
            "avatar_url": user.get("avatar_url"),
            "color": user.get("color"),
        }
    username = str(getattr(user, "username", None) or getattr(user, "name", None) or user)
    return {"username": username, "name": username, "display_name": username,
            "initials": username[:1].upper(), "avatar_url": None, "color": None}


def update_identity(identity: Identity, changes: Any, updatable: tuple[str, ...] | list[str]) -> Identity:
    """`identity` with `changes` (a client's JSON) applied, as jupyter_server's
    ``IdentityProvider.update_user`` applies them.

    :raises errors.Invalid: no changes, a field not in `updatable` ("Field <f> is not
        updatable", as the reference says), a value that is not a string (``null`` too, except
        for ``avatar_url`` and ``color``; the reference stores anything), text that is not
        valid Unicode, or an identity too large for the login cookie.
    """
    if not changes or not isinstance(changes, dict):
        raise errors.Invalid("Invalid or missing JSON body")
    for field in changes:
        if field not in updatable:
            raise errors.Invalid(f"Field {field} is not updatable")
    for field, value in changes.items():
        if not isinstance(value, str) and not (value is None and field in _NULLABLE_FIELDS):
            raise errors.Invalid(f"Field {field} must be a string" + (" or null" if field in _NULLABLE_FIELDS else ""))
    updated: Identity = {**identity, **changes}
    try:
        size = len(orjson.dumps(updated))
    except TypeError as exc:  # a lone surrogate: not text a cookie (or a browser) can carry
        raise errors.Invalid(f"The identity must be valid Unicode text: {exc}") from exc
    if size > MAX_IDENTITY_BYTES:
        raise errors.Invalid(f"The identity is too large: at most {MAX_IDENTITY_BYTES} bytes of JSON")
    return updated
