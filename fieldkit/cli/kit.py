"""`fieldkit kit keygen|build|verify` and `fieldkit models export|install`: carrying fieldkit offline."""

from __future__ import annotations

from pathlib import Path

import click

from fieldkit.cli.group import cli
from fieldkit.cli.models import models_group
from fieldkit.cli.output import echo
from fieldkit.cli.progress import StderrProgress
from fieldkit.progress import Reporter


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


@cli.group("kit")
def kit_group() -> None:
    """The air-gapped kit: wheels, ready models and a signed MANIFEST for a laptop with no network."""


@kit_group.command("keygen")
@click.argument("key", type=click.Path(dir_okay=False))
def kit_keygen(key: str) -> None:
    """Write a new Ed25519 signing key to KEY and its public key to KEY.pub."""
    from fieldkit.kit.signing import keygen

    priv, pub = keygen(Path(key))
    echo(f"private key: {priv} (keep it on the build machine)")
    echo(f"public key:  {pub} (hand it to each site separately from the kit)")


@kit_group.command("build")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--models", "models", default=None,
              help="comma-separated model ids, or `all` (default: all-minilm-l6-v2,smollm2-135m-instruct)")
@click.option("--python", "python", default=None, help="target Python MAJOR.MINOR (default: this one)")
@click.option("--platform", "platforms", multiple=True,
              help="target platform tag, repeatable (e.g. manylinux_2_28_x86_64, manylinux_2_28_aarch64, "
                   "win_amd64, macosx_11_0_arm64); default: this machine")
@click.option("--sign-key", type=click.Path(dir_okay=False), default=None, help="private key from `kit keygen`")
@click.option("--since", type=click.Path(file_okay=False), default=None,
              help="an older kit: write only what changed since it (an update kit)")
def kit_build(folder: str, models: str | None, python: str | None, platforms: tuple[str, ...],
              sign_key: str | None, since: str | None) -> None:
    """Build FOLDER on a connected machine: wheels, models, install.sh, MANIFEST (+ signature)."""
    from fieldkit.kit.build import build_kit

    with StderrProgress() as prog:
        res = build_kit(Path(folder), models=models, python=python, platforms=list(platforms) or None,
                        sign_key=Path(sign_key) if sign_key else None,
                        since=Path(since) if since else None, reporter=Reporter("kit", callback=prog))
    echo(f"kit: {res.folder} ({res.files} files, {_mb(res.total)}, built in {res.seconds:.0f} s)")
    for part, size in sorted(res.parts.items(), key=lambda kv: -kv[1]):
        echo(f"  {part:<40} {_mb(size):>12}")
    if res.base:
        echo(f"update kit over the kit whose MANIFEST sha256 is {res.base}")
    echo("signed: MANIFEST.sig" if res.signed else
               "not signed: give --sign-key KEY (from `fieldkit kit keygen KEY`) to sign it")
    echo(f"at the site: {res.folder}/install.sh VENV --pubkey KEY.pub (see {res.folder}/README.txt)")


@kit_group.command("verify")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--pubkey", type=click.Path(dir_okay=False), default=None, help="the KEY.pub to check MANIFEST.sig")
def kit_verify(folder: str, pubkey: str | None) -> None:
    """Check every file of a kit against its MANIFEST and, with --pubkey, the signature; exit 2 if bad."""
    from fieldkit.kit.build import verify_kit
    from fieldkit.kit.manifest import read_manifest

    with StderrProgress() as prog:
        verify_kit(Path(folder), Path(pubkey) if pubkey else None, Reporter("verify", callback=prog))
    n = len(read_manifest(Path(folder))[0])
    echo(f"{folder}: all {n} files match MANIFEST")
    echo("signature: good" if pubkey else "signature: not checked (give --pubkey KEY.pub)")


@models_group.command("export")
@click.argument("model_id")
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False), help="the pack folder to write")
def models_export(model_id: str, out: str) -> None:
    """Write an installed model as a pack folder, to carry to another laptop."""
    from fieldkit.inference.packs import export_pack

    with StderrProgress() as prog:
        info = export_pack(model_id, Path(out), Reporter("export", callback=prog))
    echo(f"{info.id}: {len(info.files)} files, {_mb(info.size)} in {info.folder}")
    echo(f"on the other laptop: fieldkit models install {info.folder}")


@models_group.command("install")
@click.argument("pack", type=click.Path(file_okay=False))
def models_install(pack: str) -> None:
    """Install a model pack (checked file by file); the old version stays until the new one verifies."""
    from fieldkit.inference.packs import install_pack

    with StderrProgress() as prog:
        info = install_pack(Path(pack), Reporter("install", callback=prog))
    echo(f"{info.id}: installed and verified ({len(info.files)} files, {_mb(info.size)})")
