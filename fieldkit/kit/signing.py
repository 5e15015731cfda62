"""Ed25519 keys and signatures for kit manifests, made with `cryptography` (never by hand).

Keys are PEM files that OpenSSL also reads, so a site can check a signature before anything
is installed: `openssl pkeyutl -verify -pubin -inkey KEY.pub -rawin -in MANIFEST -sigfile MANIFEST.sig`.
"""

from __future__ import annotations

import os
from pathlib import Path

from fieldkit.errors import InputError, UsageError


def _crypto():
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as e:  # a dependency; only a broken install lacks it
        raise UsageError("the `cryptography` package is not installed",
                         "reinstall fieldkit: `python3 -m pip install -e .`") from e
    return serialization, ed25519, InvalidSignature


def keygen(key: Path) -> tuple[Path, Path]:
    """Write a new private key to KEY (mode 0600) and its public key to KEY.pub; never overwrite."""
    serialization, ed25519, _ = _crypto()
    pub = key.with_name(key.name + ".pub")
    for p in (key, pub):
        if p.exists() or p.is_symlink():
            raise UsageError(f"{p} already exists", "choose a new name; an existing key is never overwritten")
    if not key.parent.is_dir():
        raise UsageError(f"folder {key.parent} does not exist", "create it first")
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pub_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    fd = os.open(pub, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(pub_pem)
    return key, pub


def _read_key_file(path: Path, what: str) -> bytes:
    if not path.is_file():
        raise UsageError(f"{what} {path} does not exist", "make one with `fieldkit kit keygen KEY`")
    if path.stat().st_size > 64 * 1024:
        raise InputError(f"{path} is too large to be a key", f"give the {what} file that `kit keygen` wrote")
    return path.read_bytes()


def sign(key: Path, data: bytes) -> bytes:
    """The Ed25519 signature of data with the private key in KEY."""
    serialization, ed25519, _ = _crypto()
    try:
        private = serialization.load_pem_private_key(_read_key_file(key, "private key"), password=None)
    except (ValueError, TypeError) as e:
        raise InputError(f"{key} is not an unencrypted PEM private key",
                         "give the KEY file that `fieldkit kit keygen KEY` wrote") from e
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise InputError(f"{key} is not an Ed25519 key", "make one with `fieldkit kit keygen KEY`")
    return private.sign(data)


def verify(pubkey: Path, data: bytes, signature: bytes) -> bool:
    """True when signature is the Ed25519 signature of data by the key in pubkey."""
    serialization, ed25519, invalid = _crypto()
    try:
        public = serialization.load_pem_public_key(_read_key_file(pubkey, "public key"))
    except (ValueError, TypeError) as e:
        raise InputError(f"{pubkey} is not a PEM public key",
                         "give the KEY.pub file that `fieldkit kit keygen KEY` wrote") from e
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise InputError(f"{pubkey} is not an Ed25519 public key", "give the KEY.pub of `kit keygen`")
    try:
        public.verify(signature, data)
    except invalid:
        return False
    return True
