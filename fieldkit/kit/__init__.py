"""The air-gapped kit: wheels, ready models and a signed manifest, carried to a laptop with no network.

`build` runs on a connected machine; `verify` and the kit's own `install.sh` run at the site.
Every file in a kit is listed in `MANIFEST` (sha256, size, relative path) and the manifest is
signed with Ed25519 (`cryptography`), so one public key handed over separately vouches for it all.
"""
