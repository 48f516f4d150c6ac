"""Tokens, password hashes and anonymous identities. No requests or cookies here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass
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


def new_xsrf_token(secret: str) -> str:
    """A fresh ``_xsrf`` value, ``<nonce>.<mac>``: random, and signed with the server's secret.

    Double-submit alone (the form's value equals the cookie's) lets anyone who can set a cookie
    for our host choose both halves: any page on another port of the same host, or on a sibling
    domain. Such a page cannot mint a value we signed; the login form takes only those.
    """
    nonce = secrets.token_hex(16)
    return f"{nonce}.{_xsrf_mac(secret, nonce)}"


def xsrf_token_valid(secret: str, value: str) -> bool:
    """Whether `value` is an ``_xsrf`` value this server (this `secret`) made."""
    nonce, dot, mac = value.partition(".")
    return bool(dot) and len(nonce) == 32 and hmac.compare_digest(mac.encode(), _xsrf_mac(secret, nonce).encode())


def _xsrf_mac(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), b"flask-notebook-xsrf:" + nonce.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    blocked_until: float = 0.0


class LoginThrottle:
    """Exponential backoff for login attempts, per client address.

    Every attempt counts as a failure until it succeeds (``succeeded`` forgets the address), so
    attempts sent side by side are counted before any of them is checked. The first `free`
    attempts go through; from then on each attempt opens a wait of `base` seconds, doubled at
    every further attempt, up to `longest`. Attempts during a wait are refused unchecked and
    not counted. An address that has not tried for `forget_after` seconds starts afresh.

    At most `max_addresses` are remembered (the least recently failing go first), so a flood
    of addresses costs bounded memory. IPv6 addresses count by their /64, which one client
    usually holds whole. Not thread-safe: one instance per process, called from its greenlets.
    """

    def __init__(self, *, free: int = 5, base: float = 1.0, longest: float = 300.0, forget_after: float = 3600.0,
                 max_addresses: int = 10_000) -> None:
        self.free = free
        self.base = base
        self.longest = longest
        self.forget_after = max(forget_after, longest)
        self.max_addresses = max_addresses
        self._table: OrderedDict[str, _Failures] = OrderedDict()

    def __len__(self) -> int:
        return len(self._table)

    def attempt(self, address: str, now: float) -> float:
        """Count an attempt from `address`: 0 when it may go on, else the seconds until one may."""
        self._forget_old(now)
        key = client_key(address)
        entry = self._table.get(key)
        if entry is not None and now < entry.blocked_until:
            return entry.blocked_until - now
        if entry is None:
            entry = self._table[key] = _Failures()
            while len(self._table) > self.max_addresses:
                self._table.popitem(last=False)
        entry.count += 1
        entry.last = now
        self._table.move_to_end(key)
        if entry.count >= self.free:
            entry.blocked_until = now + min(self.base * 2 ** (entry.count - self.free), self.longest)
        return 0.0

    def succeeded(self, address: str) -> None:
        self._table.pop(client_key(address), None)

    def failures(self, address: str) -> int:
        entry = self._table.get(client_key(address))
        return entry.count if entry is not None else 0

    def _forget_old(self, now: float) -> None:
        while self._table:
            entry = next(iter(self._table.values()))
            if now - entry.last <= self.forget_after:
                return
            self._table.popitem(last=False)


def retry_after(wait: float) -> int:
    """Whole seconds for a ``Retry-After`` header: never 0 for a wait that is not over."""
    return max(1, math.ceil(wait))


def client_key(address: str) -> str:
    """An IPv4 address as it is; an IPv6 one by its /64 network; anything else as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:1.2.3.4 from a dual-stack socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


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
