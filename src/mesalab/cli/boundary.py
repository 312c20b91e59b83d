"""The command line's one error boundary: every user error ends as one `error: ...` line.

`invoke(app, argv)` runs the Typer app without Click's standalone mode, so that every
failure comes back here as an exception, and turns each one a user can cause into a
single line on stderr with exit code 2 (nothing else printed, no traceback):

- Click's parse errors (a bad integer or float, an unknown option or command, a missing
  argument), each naming the option and, where there is a list, what is allowed;
- `MesalabError` (a bad name, field, path, file or limit);
- an `OSError` on a path the user gave (a folder where a file belongs, no permission);
- running out of memory (a size the limits did not foresee), named as such.

Anything else is a bug and keeps its traceback. Ctrl-C exits 130 with one line.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer._click.core import Abort
from typer._click.exceptions import ClickException, NoArgsIsHelpError, NoSuchOption, UsageError

from mesalab.errors import MesalabError

USER_ERROR = 2
"""The exit code of every refused input."""


def invoke(app: typer.Typer, argv: Sequence[str] | None) -> int:
    """Run `app` on `argv` (default: `sys.argv[1:]`); the exit code, user errors as one line."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="mesalab", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # `mesalab run`: the help is the answer
        text = exc.format_message()  # empty where Typer's rich help has printed itself
        if text:
            typer.echo(text)
        return USER_ERROR
    except ClickException as exc:
        return fail(click_message(exc))
    except MesalabError as exc:
        return fail(str(exc))
    except Abort:
        print("interrupted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        return fail("out of memory: lower the sizes asked for (see the limits in `--help` and the README)")
    except OSError as exc:
        if exc.filename is None:
            raise
        return fail(os_message(exc))
    except RuntimeError as exc:
        if not _is_out_of_memory(exc):
            raise
        return fail("out of memory: lower the sizes asked for (see the limits in `--help` and the README)")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code if isinstance(code, int) else 0


def fail(message: str) -> int:
    """Print `error: message` as one line on stderr; the exit code of a refused input."""
    print("error: " + " ".join(message.split()), file=sys.stderr)
    return USER_ERROR


def click_message(exc: ClickException) -> str:
    """A Click error as one line, prefixed with the command it belongs to."""
    message = exc.format_message()
    ctx: Any = getattr(exc, "ctx", None)
    if isinstance(exc, UsageError) and ctx is not None:
        if message.startswith("No such command") and hasattr(ctx.command, "list_commands"):
            names = ctx.command.list_commands(ctx)
            message = f"{message.rstrip('.')} (allowed: {', '.join(names)})"
        elif isinstance(exc, NoSuchOption) and not exc.possibilities:
            options = sorted(
                name
                for param in ctx.command.get_params(ctx)
                if param.param_type_name == "option" and not getattr(param, "hidden", False)
                for name in param.opts
            )
            message = f"{message.rstrip('.')} (allowed: {', '.join(options)})"
        return f"{ctx.command_path}: {message}"
    return message


def os_message(exc: OSError) -> str:
    """`PATH: what is wrong` for an OSError on a path the user gave."""
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, IsADirectoryError):
        reason = "is a folder, not a file"
    elif isinstance(exc, NotADirectoryError | FileExistsError):
        reason = f"{reason} (a file stands where a folder belongs)"
    where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
    return f"{where}: {reason}"


def _is_out_of_memory(exc: RuntimeError) -> bool:
    text = str(exc)
    return "out of memory" in text.lower() or "can't allocate memory" in text.lower()
