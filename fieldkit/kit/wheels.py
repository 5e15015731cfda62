"""The run-time wheels of fieldkit for a target Python and platform, fetched with pip.

The versions are the ones installed here (the closure of fieldkit's run-time requirements,
no extras), so a kit installs exactly what this machine runs and tests. A requirement that
only another platform needs (say colorama on Windows) is resolved by pip for that platform.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fieldkit.errors import InputError, UsageError
from fieldkit.progress import Reporter

# (sys_platform, platform_system, platform_machine, os_name) by the start/end of a wheel tag
_PLATFORMS = [
    (re.compile(r"^(many|musl)?linux.*_x86_64$"), ("linux", "Linux", "x86_64", "posix")),
    (re.compile(r"^(many|musl)?linux.*_aarch64$"), ("linux", "Linux", "aarch64", "posix")),
    (re.compile(r"^win_amd64$"), ("win32", "Windows", "AMD64", "nt")),
    (re.compile(r"^win_arm64$"), ("win32", "Windows", "ARM64", "nt")),
    (re.compile(r"^macosx_.*_arm64$"), ("darwin", "Darwin", "arm64", "posix")),
    (re.compile(r"^macosx_.*_x86_64$"), ("darwin", "Darwin", "x86_64", "posix")),
]
NATIVE = "native"


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Target:
    """One platform a kit serves: a pip platform tag (or the machine itself) and a Python version."""

    tag: str
    python: str
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def make(cls, tag: str, python: str) -> "Target":
        if not re.fullmatch(r"3\.\d{1,2}", python):
            raise UsageError(f"--python {python!r} is not a version like 3.11", "give MAJOR.MINOR, e.g. 3.11")
        env = {"python_version": python, "python_full_version": python + ".0",
               "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
        if tag == NATIVE:
            import platform

            env.update(sys_platform=sys.platform, platform_system=platform.system(),
                       platform_machine=platform.machine(), os_name=__import__("os").name)
        else:
            hit = next((v for rx, v in _PLATFORMS if rx.match(tag)), None)
            if hit is None:
                raise UsageError(f"unknown platform tag {tag!r}",
                                 "use e.g. manylinux_2_28_x86_64, manylinux_2_28_aarch64, win_amd64, "
                                 "macosx_11_0_arm64")
            env.update(zip(("sys_platform", "platform_system", "platform_machine", "os_name"), hit))
        return cls(tag, python, env)

    def pip_args(self) -> list[str]:
        """pip download's target flags (none for the machine itself at its own Python)."""
        own = f"{sys.version_info.major}.{sys.version_info.minor}"
        if self.tag == NATIVE and self.python == own:
            return []
        args = ["--python-version", self.python, "--implementation", "cp"]
        if self.tag != NATIVE:
            args += ["--platform", self.tag]
        return args

    @property
    def marker(self) -> str:
        e = self.env
        return (f'sys_platform == "{e["sys_platform"]}" and platform_machine == "{e["platform_machine"]}"')


def wheel_requirements(wheel: Path) -> list[str]:
    """The Requires-Dist lines of a wheel's METADATA (what the package itself asks for)."""
    import zipfile
    from email.parser import Parser

    with zipfile.ZipFile(wheel) as z:
        meta = next((n for n in z.namelist() if n.endswith(".dist-info/METADATA")), None)
        if meta is None:
            raise InputError(f"{wheel.name} has no METADATA", "rebuild the wheel")
        msg = Parser().parsestr(z.read(meta).decode("utf-8"))
    return msg.get_all("Requires-Dist") or []


def closure(target: Target, roots: list[str]) -> tuple[dict[str, str], list[str]]:
    """Pinned installed versions of the run-time closure of roots, and requirements not installed here."""
    from packaging.requirements import Requirement

    pinned: dict[str, str] = {}
    elsewhere: list[str] = []
    done: set[tuple[str, str]] = set()  # (package, extra) already expanded
    stack = [(r, "") for r in roots]
    while stack:
        text, parent_extra = stack.pop()
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({**target.env, "extra": parent_extra}):
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            elsewhere.append(str(Requirement(f"{req.name}{req.specifier}")))
            continue
        if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
            raise UsageError(f"{req.name} {dist.version} is installed here but fieldkit needs {req.specifier}",
                             "reinstall fieldkit (`python3 -m pip install -e .`) before building a kit")
        pinned[norm(req.name)] = dist.version
        for extra in ("", *sorted(req.extras)):
            if (norm(req.name), extra) not in done:
                done.add((norm(req.name), extra))
                stack.extend((r, extra) for r in dist.requires or [])
    return pinned, sorted({r for r in elsewhere if norm(Requirement(r).name) not in pinned})


def _pip(args: list[str], reporter: Reporter | None, env: dict[str, str] | None = None) -> None:
    if reporter is not None:
        reporter.check()
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env={**__import__("os").environ, **env} if env else None)
    if proc.returncode != 0:
        tail = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        last = tail[-1] if tail else f"pip exited {proc.returncode}"
        raise InputError(f"pip could not fetch the wheels: {last[:300]}",
                         "check the network to the package index, and that every package has a wheel "
                         "for this --python/--platform")


def download(target: Target, roots: list[str], dest: Path, reporter: Reporter | None = None) -> list[str]:
    """Download the wheels of the closure of roots for target into dest; the requirement lines."""
    pinned, elsewhere = closure(target, roots)
    reqs = [f"{n}=={v}" for n, v in sorted(pinned.items())]
    dest.mkdir(parents=True, exist_ok=True)
    base = ["download", "--only-binary=:all:", "--dest", str(dest), *target.pip_args()]
    if reporter is not None:
        reporter.update(0, f"{len(reqs)} wheels for {target.tag} / Python {target.python}", force=True)
    _pip([*base, "--no-deps", *reqs], reporter)
    if elsewhere:
        _pip([*base, *elsewhere], reporter)
    return reqs + elsewhere


def build_own_wheel(project: Path, dest: Path, reporter: Reporter | None = None) -> Path:
    """fieldkit's own wheel, built from its source tree (pure Python: one wheel serves every platform)."""
    if not (project / "pyproject.toml").is_file():
        raise UsageError("fieldkit's source tree was not found next to the installed package",
                         "run `fieldkit kit build` from an install made with `pip install -e .` of a checkout")
    before = set(dest.glob("fieldkit-*.whl"))
    # a fixed SOURCE_DATE_EPOCH makes the wheel byte-reproducible: an update kit (--since) carries
    # fieldkit again only when its code changed
    _pip(["wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(dest), str(project)], reporter,
         env={"SOURCE_DATE_EPOCH": "315532800"})
    new = sorted(set(dest.glob("fieldkit-*.whl")) - before) or sorted(dest.glob("fieldkit-*.whl"))
    if not new:
        raise InputError("building fieldkit's wheel made no file", "run `pip wheel .` by hand to see why")
    return new[-1]


def wheel_name_version(filename: str) -> tuple[str, str]:
    """(normalised name, version) from a wheel file name."""
    parts = filename[:-4].split("-")
    if not filename.endswith(".whl") or len(parts) < 5:
        raise InputError(f"{filename} is not a wheel file name", "the kit's wheels/ holds .whl files only")
    return norm(parts[0]), parts[1]
