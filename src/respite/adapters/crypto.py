"""Encryption at rest for special-category data (vulnerability, health) and secrets we
must be able to read back (webhook signing secrets).

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``): authenticated, so a tampered
value fails to open instead of decrypting to garbage. The key comes from
``RESPITE_DATA_KEY`` (a Fernet key: 32 url-safe base64 bytes). Without it, a key file is
used (``RESPITE_DATA_KEY_FILE``, default ``./respite-data.key``), created with mode 0600
on first use, which is what the demo and a single-machine agency want; production sets the
environment variable from its secret store. Several keys separated by commas rotate: the
first encrypts, all decrypt.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["DecryptionError", "open_sealed", "seal"]


class DecryptionError(Exception):
    """The value was not sealed with any of the configured keys, or was altered."""


def _key_material() -> str:
    env = os.environ.get("RESPITE_DATA_KEY")
    if env:
        return env
    path = Path(os.environ.get("RESPITE_DATA_KEY_FILE", "respite-data.key"))
    if not path.exists():
        key = Fernet.generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
    return path.read_text(encoding="ascii").strip()


@lru_cache(maxsize=4)
def _fernet(material: str) -> MultiFernet:
    return MultiFernet([Fernet(k.strip().encode("ascii")) for k in material.split(",") if k])


def seal(plaintext: str) -> str:
    return _fernet(_key_material()).encrypt(plaintext.encode("utf-8")).decode("ascii")


def open_sealed(token: str) -> str:
    try:
        return _fernet(_key_material()).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise DecryptionError("sealed value cannot be opened with the configured keys") from exc
