"""The `carefund` command: the project's management entry point (`carefund migrate`, `carefund demo`, ...).

`carefund economics run ...` starts without Django (`carefund.economics.cli`): the model engine needs no web
framework, and Django's start-up would be most of the command's time. An option that needs the database
(`cli.DJANGO_OPTIONS`) sends it through the Django command instead.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:2] == ["economics", "run"]:
        from carefund.economics import cli

        if not cli.needs_django(args[2:]):
            code = cli.main(args[2:])
            if code:
                raise SystemExit(code)
            return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["carefund", *args])


if __name__ == "__main__":
    main()
