"""The SDR page's form: the key assumptions a person may change.

Syntax and ranges only; the model validates the rest."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms

from carefund.economics.report import Overrides

MAX_PAGE_PSA = 100_000  # the settings' ECONOMICS_MAX_DRAWS caps it again
DEFAULT_SEED = 2026


class SdrAssumptionsForm(forms.Form):
    discount_rate = forms.DecimalField(
        label="Discount rate (% a year, costs and effects)",
        min_value=Decimal(0),
        max_value=Decimal(10),
        decimal_places=2,
        initial=Decimal("3.5"),
        help_text="NICE reference case 3.5%; 1.5% is a scenario (sources.md: NICE PMG36).",
    )
    sdr_operation_cost = forms.IntegerField(
        label="SDR operation cost (£)",
        min_value=0,
        max_value=200_000,
        initial=28_000,
        help_text="UK self-funded prices £21,000 to £35,000 (sources.md: UK self-funded SDR prices).",
    )
    gmfm_gain_per_year = forms.DecimalField(
        label="Effect size: GMFM-66 gain per year after SDR",
        min_value=Decimal(0),
        max_value=Decimal(20),
        decimal_places=2,
        initial=Decimal("3.2"),
        help_text="CtE England: 3.2 (95% CI 2.9 to 3.5) (sources.md: Summers 2019).",
    )
    evidence = forms.ChoiceField(
        label="Where the effect size comes from",
        choices=[
            ("literature", "The published figure above (or the number you enter)"),
            ("registry", "carefund's outcomes registry (fitted annual change and its uncertainty)"),
        ],
        initial="literature",
        required=False,
        help_text="The registry is used only when enough children's guardians have agreed to share.",
    )
    effect_duration_years = forms.IntegerField(
        label="Years the benefit lasts",
        min_value=0,
        max_value=94,
        initial=15,
        help_text="An assumption: 5 to 40 years.",
    )
    horizon_years = forms.IntegerField(
        label="Time horizon (years)", min_value=1, max_value=94, initial=94, help_text="94 years: age 6 to 100."
    )
    thresholds = forms.CharField(
        label="Thresholds (£ per QALY, comma-separated)",
        initial="20000, 25000, 30000, 35000",
        max_length=100,
        help_text="Up to 6 amounts from 0 to 1,000,000.",
    )
    psa_draws = forms.IntegerField(
        label="PSA draws",
        min_value=0,
        max_value=MAX_PAGE_PSA,
        initial=1000,
        help_text="0 for the base case only. Every run waits its turn in the background; this page shows it when done.",
    )
    seed = forms.IntegerField(label="Random seed", min_value=0, max_value=2**32 - 1, initial=DEFAULT_SEED)

    def clean_thresholds(self) -> tuple[float, ...]:
        raw: str = self.cleaned_data["thresholds"].replace("£", "")
        # thousands separators ("20,000, 30,000") are removed before splitting the list on commas
        raw = re.sub(r"(?<=\d),(?=\d{3}\b)", "", raw)
        parts = [p.strip() for p in raw.replace(";", ",").split(",")]
        out = []
        for p in parts:
            if not p:
                continue
            if not p.isdigit():
                raise forms.ValidationError(f"{p!r} is not a whole number of pounds; write amounts like 20000, 30000.")
            out.append(float(p))
        if not out or len(out) > 6:
            raise forms.ValidationError("Give 1 to 6 thresholds, for example 20000, 30000.")
        if any(t > 1_000_000 for t in out):
            raise forms.ValidationError("Each threshold must be from 0 to 1,000,000 pounds per QALY.")
        return tuple(sorted(set(out)))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        horizon, duration = data.get("horizon_years"), data.get("effect_duration_years")
        if horizon is not None and duration is not None and duration > horizon:
            self.add_error("effect_duration_years", f"Must not exceed the time horizon ({horizon} years).")
        return data

    def overrides(self) -> Overrides:
        d = self.cleaned_data
        rate = float(d["discount_rate"]) / 100
        return Overrides(
            values={
                "sdr_operation_cost": float(d["sdr_operation_cost"]),
                "gmfm_gain_per_year": float(d["gmfm_gain_per_year"]),
                "effect_duration_years": float(d["effect_duration_years"]),
            },
            cycles=int(d["horizon_years"]),
            discount_costs=rate,
            discount_effects=rate,
            thresholds=d["thresholds"],
            psa=int(d["psa_draws"]),
            seed=int(d["seed"]),
        )
