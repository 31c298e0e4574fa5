"""Template checksums as CloudStack writes them: ``{SHA256}hex``, ``{SHA512}hex``, ``{MD5}hex`` or bare hex."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from provisioner.exceptions import DriverValueError

#: CloudStack's algorithm names to hashlib's.
ALGORITHMS = {"SHA256": "sha256", "SHA512": "sha512", "MD5": "md5", "SHA1": "sha1"}
#: Bare hex is told apart by its length, as CloudStack's ``DigestHelper`` does.
_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_FORM = re.compile(r"^(?:\{(?P<alg>[A-Za-z0-9]+)\})?(?P<hex>[0-9A-Fa-f]+)$")


@dataclass(frozen=True, slots=True)
class Checksum:
    """An expected digest: the hashlib algorithm name and lower-case hex."""

    algorithm: str
    hexdigest: str

    @classmethod
    def parse(cls, text: str) -> Checksum:
        """Parse ``{ALG}hex`` or bare hex.

        Raises:
            DriverValueError: unknown algorithm, or hex of the wrong length for it.
        """
        match = _FORM.match(text.strip())
        if match is None:
            raise DriverValueError(
                f"checksum {text!r} is not '{{SHA256}}<hex>', '{{SHA512}}<hex>', '{{MD5}}<hex>' or hex"
            )
        digest = match["hex"].lower()
        if match["alg"] is None:
            algorithm = _BY_LENGTH.get(len(digest))
            if algorithm is None:
                raise DriverValueError(f"checksum {text!r}: {len(digest)} hex digits match no known algorithm")
        else:
            algorithm = ALGORITHMS.get(match["alg"].upper(), "")
            if not algorithm:
                raise DriverValueError(
                    f"checksum {text!r}: algorithm {match['alg']!r} is not one of {sorted(ALGORITHMS)}"
                )
        if len(digest) != hashlib.new(algorithm).digest_size * 2:
            raise DriverValueError(
                f"checksum {text!r}: a {algorithm} digest has {hashlib.new(algorithm).digest_size * 2} hex digits"
            )
        return cls(algorithm, digest)

    def __str__(self) -> str:
        name = next(key for key, value in ALGORITHMS.items() if value == self.algorithm)
        return f"{{{name}}}{self.hexdigest}"
