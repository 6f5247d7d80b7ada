"""``--help`` in sections: click lists a command's options in one flat block; a command with dozens of options
(``export-alexnet``) groups them under headings, in the order given, each option in exactly one section.

Click has no option groups of its own; click-option-group and cloup add them through their own decorators, one
per option and in section order, which would move every option of the command (and the shared option helpers,
``data_paths.data_root_option``, ``cli_support.backend_option_flag``) to a new API. Formatting is all this needs,
so ``SectionedCommand`` overrides the one documented hook, ``click.Command.format_options``, and leaves parsing,
the options' order and their declarations as they are.
"""

from __future__ import annotations

import click

OTHER = "Other options"


class SectionedCommand(click.Command):
    """A ``click.Command`` whose ``--help`` lists its options under ``sections`` (title -> option names such as
    ``"--out"``), in that order; an option in no section (and ``--help``) is listed under "Other options"."""

    def __init__(self, *args, sections: dict[str, tuple[str, ...]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sections = sections

    def section_of(self, param: click.Parameter) -> str:
        names = set(param.opts) | set(param.secondary_opts)
        return next((title for title, members in self.sections.items() if names & set(members)), OTHER)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: dict[str, list[tuple[str, str]]] = {title: [] for title in [*self.sections, OTHER]}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                rows[self.section_of(param)].append(record)
        for title, records in rows.items():
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)
