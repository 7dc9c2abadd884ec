"""Content-addressed photo storage: <PHOTO_DIR>/ab/cd/<sha256>.<ext>, written through a temp file and a rename.

The address is the SHA-256 of the bytes on disk, so the same photo stored twice is one file, and a file can be
checked against its name. Sensitive photos (ID documents) are sealed with AES-GCM before they are stored, under a
key derived from SECRET_KEY with HKDF. The nonce is a keyed hash of the plaintext (SIV-style), so the same photo
seals to the same bytes and is still stored once; sealing reveals only whether two sealed photos are equal.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

SEALED_MAGIC = b"FAP1"  # Fieldapp photo, format 1: magic + 12-byte nonce + AES-256-GCM ciphertext and tag
EXTENSIONS = {"jpg", "bin"}  # plain JPEG | sealed bytes
_SHA = re.compile(r"^[0-9a-f]{64}$")


class PhotoMissing(Exception):
    """The database names a photo whose bytes are not in the store."""


class PhotoStore:
    """Local-disk store; the interface (put/get/exists) is what an S3-compatible store would implement."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, sha: str, ext: str) -> Path:
        if not _SHA.match(sha or "") or ext not in EXTENSIONS:
            raise ValueError("not a photo address")
        return self.root / sha[:2] / sha[2:4] / f"{sha}.{ext}"

    def exists(self, sha: str, ext: str) -> bool:
        return self.path(sha, ext).is_file()

    def put(self, data: bytes, ext: str) -> str:
        """Store `data` under its SHA-256 (once) and return the hex digest."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha, ext)
        if target.is_file() and target.stat().st_size == len(data):
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=f".{ext}")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o640)
            os.replace(tmp, target)  # atomic on one filesystem: readers see the whole file or none
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        return sha

    def get(self, sha: str, ext: str) -> bytes:
        try:
            return self.path(sha, ext).read_bytes()
        except FileNotFoundError as exc:
            raise PhotoMissing(sha) from exc


def photo_store() -> PhotoStore:
    """The store configured for this app (PHOTO_DIR)."""
    return PhotoStore(current_app.config["PHOTO_DIR"])


# ---------------------------------------------------------------- encryption at rest

def _keys(secret: str) -> tuple[bytes, bytes]:
    material = HKDF(algorithm=hashes.SHA256(), length=64, salt=b"fieldapp-photos",
                    info=b"photo-encryption-v1").derive(secret.encode())
    return material[:32], material[32:]


def seal(data: bytes, secret: str) -> bytes:
    """Encrypt and authenticate photo bytes (deterministic: the same photo gives the same sealed bytes)."""
    enc_key, nonce_key = _keys(secret)
    nonce = hmac.new(nonce_key, data, hashlib.sha256).digest()[:12]
    return SEALED_MAGIC + nonce + AESGCM(enc_key).encrypt(nonce, data, SEALED_MAGIC)


def unseal(blob: bytes, secret: str) -> bytes:
    """The photo bytes inside `blob`; raises ValueError if it is not ours or was altered."""
    if not blob.startswith(SEALED_MAGIC) or len(blob) < len(SEALED_MAGIC) + 12 + 16:
        raise ValueError("not a sealed photo")
    enc_key, _nonce_key = _keys(secret)
    nonce = blob[len(SEALED_MAGIC):len(SEALED_MAGIC) + 12]
    from cryptography.exceptions import InvalidTag
    try:
        return AESGCM(enc_key).decrypt(nonce, blob[len(SEALED_MAGIC) + 12:], SEALED_MAGIC)
    except InvalidTag as exc:
        raise ValueError("sealed photo failed authentication") from exc


def put_photo(data: bytes, encrypted: bool) -> str:
    """Store processed photo bytes, sealed when `encrypted`; returns the address."""
    store = photo_store()
    if encrypted:
        return store.put(seal(data, current_app.config["SECRET_KEY"]), "bin")
    return store.put(data, "jpg")


def get_photo(sha: str, encrypted: bool) -> bytes:
    """The viewable JPEG bytes at `sha` (unsealed if needed)."""
    store = photo_store()
    if encrypted:
        return unseal(store.get(sha, "bin"), current_app.config["SECRET_KEY"])
    return store.get(sha, "jpg")
