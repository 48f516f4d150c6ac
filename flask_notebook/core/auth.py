"""Tokens, password hashes and anonymous identities. No requests or cookies here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

from .models import Identity

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
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
