"""The Typer applications the command modules attach to."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="mesalab",
    help="A laboratory for learned optimization: train, shift, infer the objective, look inside, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

run_app = typer.Typer(
    help="Run a flagship experiment; each ends in a run folder with report.html.", no_args_is_help=True
)
app.add_typer(run_app, name="run")


def show_every_default(typer_app: typer.Typer) -> None:
    """Give every option's `--help` a default: an unset flag reads `off`, an unset value `none`.

    Typer prints `[default: X]` only for a set value; an option whose help already names its
    default in words (`(default: ...)`) keeps that wording alone.
    """
    import inspect

    from typer.models import OptionInfo

    for info in [*typer_app.registered_commands]:
        for param in inspect.signature(info.callback).parameters.values():  # type: ignore[arg-type]
            option = param.default
            if not isinstance(option, OptionInfo) or isinstance(option.show_default, str):
                continue
            if "default" in (option.help or "").lower() or option.hidden:
                continue
            if option.default is False:
                option.show_default = "off"
            elif option.default is None or option.default == []:
                option.show_default = "none"
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            show_every_default(group.typer_instance)
