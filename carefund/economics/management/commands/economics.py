"""`carefund economics run MODEL_OR_PATH ...` through Django: the same arguments and run as `carefund.economics.cli`
(which `carefund` uses without Django unless an option needs the database, `cli.DJANGO_OPTIONS`). Thin.

`--evidence registry` (this command only: it needs the database) takes the SDR model's treatment effect
(`gmfm_gain_per_year`: value and normal uncertainty) from the outcomes registry's fitted annual GMFM-66 change
(`outcomes.selectors.registry_evidence`), and says so with n and dates; with too few children it refuses and says
why (exit code 2)."""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carefund.economics.cli import CommandFailed, add_run_arguments, execute


class Command(BaseCommand):
    help = "Cost-effectiveness models: `run MODEL_OR_PATH` (a shipped model such as sdr, or a .toml file)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        run = sub.add_parser(
            "run",
            help="run a model and print its results",
            called_from_command_line=getattr(parser, "called_from_command_line", None),
        )
        add_run_arguments(run)
        run.add_argument(
            "--evidence",
            choices=["literature", "registry"],
            default="literature",
            help="where the SDR treatment effect comes from: the model file (literature) or the outcomes registry",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        evidence = None
        transform = None
        if options.get("evidence") == "registry":
            from carefund.economics.report import Overrides, apply_overrides
            from carefund.outcomes.selectors import EVIDENCE_PARAMETER, InsufficientEvidenceError, registry_evidence

            try:
                evidence = registry_evidence()
            except InsufficientEvidenceError as exc:
                raise CommandError(f"--evidence registry: {exc.message}", returncode=2) from None
            replaced = Overrides(
                evidence={EVIDENCE_PARAMETER: (evidence.estimate, evidence.standard_error, evidence.source)}
            )

            def transform(spec: Any) -> Any:
                return apply_overrides(spec, replaced)

            if not options["json"]:
                self.stdout.write(f"Evidence for the treatment effect ({EVIDENCE_PARAMETER}): {evidence.source}")
        out = io.StringIO() if evidence is not None and options["json"] else self.stdout
        try:
            execute(options, out, self.stderr, transform=transform)  # type: ignore[arg-type]
        except CommandFailed as exc:
            raise CommandError(str(exc), returncode=exc.code) from None
        if evidence is not None and options["json"]:
            data = json.loads(out.getvalue())
            data["evidence"] = {"parameter": "gmfm_gain_per_year", "source": "registry", **evidence.to_json()}
            self.stdout.write(json.dumps(data, indent=2))
