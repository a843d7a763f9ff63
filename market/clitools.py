"""What the `flask --app app import ...` commands of every feature share: the --skip-bad option, reading the file,
and how a run ends (what is printed, committed and returned)."""
from __future__ import annotations

import click

from .extensions import db
from .imports import ImportFileError, read_rows

#: exit status of `import ... --skip-bad` that stored the good rows and skipped bad ones (0: none skipped)
EXIT_SKIPPED = 3

skip_bad_option = click.option(
    "--skip-bad", is_flag=True,
    help=f"Store the good rows and report the bad ones. Exits 0 only when no row was skipped, "
         f"{EXIT_SKIPPED} when good rows were stored and bad ones skipped.",
)


def read_import_file(path: str, layout) -> list[tuple[int, dict]]:
    """The rows of an import file (market.imports.read_rows); a file that cannot be read ends the command."""
    try:
        return read_rows(path, layout=layout)
    except ImportFileError as exc:
        raise click.ClickException(exc.message) from exc


def finish_import(report, *, what: str, summary: list[str]) -> None:
    """Print every bad row; commit and print `summary` when rows were stored, else roll back and fail.

    Exit status: 0 when every row was stored, EXIT_SKIPPED when --skip-bad left bad rows out, 1 when
    nothing was stored. The last summary line is followed by the count of skipped rows.
    """
    for bad in report.bad:
        click.echo(f"第{bad.line}行" + (f"（{bad.ref}）" if bad.ref else "") + f"：{bad.reason}", err=True)
    if not report.stored:
        db.session.rollback()
        raise click.ClickException(f"共 {len(report.bad)} 行有误，未导入任何{what}（可用 --skip-bad 只导入正确的行）。")
    if report.bad and report.total <= len(report.bad):
        db.session.rollback()
        raise click.ClickException(f"共 {len(report.bad)} 行有误，没有正确的行，未导入任何{what}。")
    db.session.commit()
    *lines, last = summary
    for line in lines:
        click.echo(line)
    click.echo(last + (f"，跳过有误的 {len(report.bad)} 行。" if report.bad else "。"))
    if report.skipped:
        click.get_current_context().exit(EXIT_SKIPPED)
