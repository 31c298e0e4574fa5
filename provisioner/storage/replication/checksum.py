"""Template checksums as CloudStack writes them: ``{SHA256}hex``, ``{SHA512}hex``, ``{MD5}hex`` or bare hex.

Besides CloudStack's algorithms there is the engine's own integrity checksum, ``{XXH3}hex``
(XXH3-128, :data:`ENGINE_ALGORITHM`): what the engine computes and records for every download (beside
the user's checksum when there is one, in the same pass), and what store-to-store copies are then
verified against. It is not cryptographic; it guards against corruption in transit and on disk (as
a CRC would, with 128 bits) at ~17 GB/s on one core, where SHA-256 manages ~1.6 GB/s even with
SHA-NI, which made the hash, not the I/O, the bottleneck of a replication. A checksum the user gave
is always verified, with its own algorithm, on the download from the template's URL.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Protocol

import xxhash

from provisioner.exceptions import DriverValueError

#: The engine's integrity checksum when the user gave none (an ``xxhash`` name).
ENGINE_ALGORITHM = "xxh3_128"
#: CloudStack's algorithm names to hashlib's (and the engine's ``XXH3``).
ALGORITHMS = {"SHA256": "sha256", "SHA512": "sha512", "MD5": "md5", "SHA1": "sha1", "XXH3": ENGINE_ALGORITHM}


class Hash(Protocol):
    """What hashlib and xxhash objects have in common."""

    @property
    def digest_size(self) -> int: ...

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


def new_hash(algorithm: str) -> Hash:
    """A fresh hash object for a hashlib algorithm name or ``xxh3_128``."""
    if algorithm == ENGINE_ALGORITHM:
        return xxhash.xxh3_128()
    return hashlib.new(algorithm)


def hash_file(path: str | os.PathLike[str], *algorithms: str) -> list[str]:
    """The hex digests of a file's bytes, one per algorithm, in one read."""
    digests = [new_hash(algorithm) for algorithm in algorithms]
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            for digest in digests:
                digest.update(chunk)
    return [digest.hexdigest() for digest in digests]


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
        size = new_hash(algorithm).digest_size
        if len(digest) != size * 2:
            raise DriverValueError(f"checksum {text!r}: a {algorithm} digest has {size * 2} hex digits")
        return cls(algorithm, digest)

    def __str__(self) -> str:
        name = next(key for key, value in ALGORITHMS.items() if value == self.algorithm)
        return f"{{{name}}}{self.hexdigest}"
