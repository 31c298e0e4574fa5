"""API-key request signatures: CloudStack's HMAC-SHA1 algorithm and the client variants it must accept.

The server algorithm (``ApiServer.verifyRequest``) signs every parameter except ``signature``, sorted by
name as sent, each value encoded like Java's ``URLEncoder`` with ``+`` turned into ``%20``, and the whole
string lower-cased. Real clients differ from it on a few characters (``~``, ``*``, ``[``/``]``) and on the
key order (Libcloud and the legacy cloudmonkey sort lower-cased names), so :func:`verify_signature` tries
each distinct variant, comparing every candidate in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote

from provisioner.exceptions import UnauthorizedError

#: The text CloudStack answers (HTTP 401) for a bad signature, key or expired request.
BAD_SIGNATURE = "unable to verify user credentials and/or request signature"

# Characters on which client encoders disagree. Python's ``quote`` keeps ``~`` raw; Java encodes it.
_VARIANT_CHARS = frozenset("~*[]")


def _encode(value: str, *, tilde_raw: bool, star_raw: bool, brackets_raw: bool) -> str:
    safe = ("*" if star_raw else "") + ("[]" if brackets_raw else "")
    encoded = quote(value, safe=safe)
    return encoded if tilde_raw else encoded.replace("~", "%7E")


def _string_to_sign(
    pairs: Iterable[tuple[str, str]],
    *,
    lower_key_order: bool = False,
    tilde_raw: bool = False,
    star_raw: bool = True,
    brackets_raw: bool = False,
    encode_names: bool = False,
) -> str:
    """Build the lower-cased string to sign; the defaults are the Java server form."""
    ordered = sorted(pairs, key=(lambda kv: kv[0].lower()) if lower_key_order else (lambda kv: kv[0]))
    parts = []
    for name, value in ordered:
        # cloudstack-go escapes names (``details%5B0%5D.key``); every other signer leaves them raw.
        key = quote(name, safe="*") if encode_names else name
        parts.append(f"{key}={_encode(value, tilde_raw=tilde_raw, star_raw=star_raw, brackets_raw=brackets_raw)}")
    return "&".join(parts).lower()


def _hmac(secret: str, message: str) -> bytes:
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha1).digest())


def signed_pairs(params: Mapping[str, str]) -> list[tuple[str, str]]:
    """The pairs that are signed: everything except ``signature`` (name compared case-insensitively)."""
    return [(name, value) for name, value in params.items() if name.lower() != "signature"]


def sign(params: Mapping[str, str], secret: str) -> str:
    """Sign a request the way the CloudStack server computes it (Java form).

    Args:
        params: every request parameter (a ``signature`` entry is ignored).
        secret: the user's secret key.

    Returns:
        The Base64 signature, not URL-encoded (the HTTP client encodes it).
    """
    return _hmac(secret, _string_to_sign(signed_pairs(params))).decode()


def candidate_strings(params: Mapping[str, str]) -> list[str]:
    """Every distinct string a known client could have signed, the Java form first."""
    pairs = signed_pairs(params)
    present = {char for name, value in pairs for char in name + value if char in _VARIANT_CHARS}
    # Only the characters present can change the string; two key orders only differ with upper case.
    orders = (False, True) if any(name != name.lower() for name, _ in pairs) else (False,)
    tildes = (False, True) if "~" in present else (False,)
    stars = (True, False) if "*" in present else (True,)
    brackets = ((False, False), (True, False), (False, True)) if present & {"[", "]"} else ((False, False),)
    seen: dict[str, None] = {}
    for lower, tilde, star, (raw_br, enc_names) in itertools.product(orders, tildes, stars, brackets):
        text = _string_to_sign(
            pairs,
            lower_key_order=lower,
            tilde_raw=tilde,
            star_raw=star,
            brackets_raw=raw_br,
            encode_names=enc_names,
        )
        seen.setdefault(text, None)
    return list(seen)


def parse_expires(value: str) -> datetime:
    """Parse ``expires``: ``YYYY-MM-DDThh:mm:ss`` with ``+0000``, ``+05:30``, ``+0530`` or ``Z``.

    Raises:
        ValueError: the value is not such a timestamp or has no offset.
    """
    try:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        # RFC 3339 also allows fractional seconds; fromisoformat takes them.
        parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"expires has no UTC offset: {value!r}")
    return parsed


def check_expiry(params: Mapping[str, str], now: datetime | None = None) -> None:
    """Enforce ``signatureVersion=3``: ``expires`` is required and must lie in the future.

    Without version 3 ``expires`` is ignored, as the server does. The parameter names are matched
    case-insensitively (cloudstack-go sends ``signatureversion``).

    Raises:
        UnauthorizedError: v3 without a valid ``expires``, or an expired request.
    """
    lowered = {name.lower(): value for name, value in params.items()}
    if lowered.get("signatureversion") != "3":
        return
    expires = lowered.get("expires")
    if not expires:
        raise UnauthorizedError(BAD_SIGNATURE)
    try:
        deadline = parse_expires(expires)
    except ValueError:
        raise UnauthorizedError(BAD_SIGNATURE) from None
    if deadline < (now or datetime.now(UTC)):
        raise UnauthorizedError(BAD_SIGNATURE)


def verify_signature(params: Mapping[str, str], secret: str, now: datetime | None = None) -> None:
    """Verify a signed request against the user's secret key.

    Args:
        params: the request parameters, names as sent and URL-decoded values, including ``signature``.
        secret: the user's secret key.
        now: the current time (tests pass one), default the clock.

    Raises:
        UnauthorizedError: no signature, no variant matches, or the request has expired.
    """
    given = next((value for name, value in params.items() if name.lower() == "signature"), "")
    # An unescaped Base64 signature arrives with its ``+`` decoded to spaces.
    provided = given.replace(" ", "+").encode()
    if not provided:
        raise UnauthorizedError(BAD_SIGNATURE)
    matched = False
    for text in candidate_strings(params):
        # Keep comparing after a match: the time taken does not depend on which variant matched.
        matched |= hmac.compare_digest(_hmac(secret, text), provided)
    if not matched:
        raise UnauthorizedError(BAD_SIGNATURE)
    check_expiry(params, now)
