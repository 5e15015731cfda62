"""The `fieldkit` command: a thin edge that parses, calls the core, prints, sets the exit code.

Exit codes: 0 success; 2 bad input or usage (one `error: ...` line plus a hint on stderr,
never a traceback); 130 cancelled; 1 an internal fault.
"""

from __future__ import annotations

import os
import signal
import sys


def _quiet_startup_exit(signum, frame) -> None:  # pragma: no cover - timing dependent
    """Ctrl+C or SIGTERM while Python is still importing: nothing has started, leave quietly."""
    os.write(2, b"error: cancelled; nothing was written\n")
    os._exit(128 + signum)


# installed before the heavy imports below (click, then polars in the commands), so an
# interrupt in the first few hundred milliseconds prints one line, not a traceback; only
# when this process is the `fieldkit` command (not a test runner or an embedding program)
_argv0 = sys.argv[0] if sys.argv else ""
_IS_COMMAND = (os.path.basename(_argv0) == "fieldkit"
               or _argv0.endswith(os.path.join("fieldkit", "__main__.py")))
if _IS_COMMAND:
    signal.signal(signal.SIGINT, _quiet_startup_exit)
    signal.signal(signal.SIGTERM, _quiet_startup_exit)

import click  # noqa: E402

from fieldkit.cli.group import cli  # noqa: E402
from fieldkit.cli.output import echo  # noqa: E402
from fieldkit.errors import FieldkitError  # noqa: E402

_signal_seen: list[int] = []


def _interrupt(signum, frame) -> None:
    """SIGINT and SIGTERM both cancel (a service manager or `timeout` sends SIGTERM).

    Once an output has been published the work is done: the signal is noted and the
    command finishes normally instead of reporting a cancel for a file it wrote.
    """
    from fieldkit.progress import output_committed

    _signal_seen.append(signum)
    if output_committed():
        return
    raise KeyboardInterrupt


def _install_signal_handlers() -> list:
    """Our handlers for the command's run; returns the previous ones to put back."""
    previous = [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)]
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    return previous


def _err(line: str) -> None:
    echo(line, err=True)


__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: turn every failure into one clean line and an exit code."""
    previous = _install_signal_handlers()
    try:
        rv = cli.main(args=argv, prog_name="fieldkit", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx else "", err=True)
        code = 2
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else "fieldkit"
        _err(f"error: {e.format_message()}")
        _err(f"hint: see `{cmd} --help`")
        code = 2
    except click.exceptions.Abort:  # click's wrapping of KeyboardInterrupt
        _err("error: cancelled; nothing was written")
        code = 128 + (_signal_seen[-1] if _signal_seen else signal.SIGINT)
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.ClickException as e:
        _err(f"error: {e.format_message()}")
        code = 2
    except FieldkitError as e:
        _err(f"error: {e.message}")
        _err(f"hint: {e.hint or _default_hint(e)}")  # every error gets a next step
        code = e.exit_code
        if code == 130 and _signal_seen:  # cancelled by a signal: 143 for SIGTERM
            code = 128 + _signal_seen[-1]
    except KeyboardInterrupt:
        _err("error: cancelled; nothing was written")
        code = 128 + (_signal_seen[-1] if _signal_seen else signal.SIGINT)
    except BrokenPipeError:  # before OSError: `fieldkit ... | head` is not a failure
        # Python's own flush at exit would fail again and exit 1: point stdout at /dev/null
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except SystemExit as e:  # click turns EPIPE into sys.exit(1) itself (stdout already pacified)
        code = 0 if e.code == 1 else e.code
    except OSError as e:
        disk = _disk_full(e)
        if disk is None:
            code = _internal(e)
        else:
            _err(f"error: {disk}")
            _err("hint: free some space there (or point FIELDKIT_HOME / -o elsewhere) and run again")
            code = 2
    except Exception as e:  # an internal fault: say so plainly; details on request
        code = _internal(e)
    if not _IS_COMMAND:
        # called in-process (tests, other programs): leave their signal handling as it was
        signal.signal(signal.SIGINT, previous[0] or signal.SIG_DFL)
        signal.signal(signal.SIGTERM, previous[1] or signal.SIG_DFL)
    sys.exit(code)


def _default_hint(e: FieldkitError) -> str:
    from fieldkit.errors import InputError, ModelError, OutputError

    if isinstance(e, ModelError):
        return "check the model file; `fieldkit models list` shows what is installed and supported"
    if isinstance(e, InputError):
        return "run `fieldkit inspect` on the input to see what fieldkit makes of it"
    if isinstance(e, OutputError):
        return "choose another output path"
    return "see `fieldkit --help`"


def _disk_full(e: OSError) -> str | None:
    """'no space left on device in FOLDER' for ENOSPC/EDQUOT, else None."""
    import errno

    if e.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    where = os.path.dirname(os.path.abspath(e.filename)) if e.filename else None
    return "no space left on device" + (f" in {where}" if where else "")


def _internal(e: BaseException) -> int:
    if os.environ.get("FIELDKIT_DEBUG"):
        raise e
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    _err(f"internal error: {type(e).__name__}: {first}")
    _err("hint: this is a bug in fieldkit; rerun with FIELDKIT_DEBUG=1 for details and report it")
    return 1


def _register() -> None:
    """Import the command modules; each adds its commands to `cli`."""
    import importlib

    for name in ("data", "models", "embed", "text", "logs", "code", "check", "kit", "merge", "report"):
        try:
            importlib.import_module(f"fieldkit.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"fieldkit.cli.{name}":
                raise


_register()
