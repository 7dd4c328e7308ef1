"""The demo: five centres, 137 synthetic children labelled synthetic, following the published effect; James."""

from __future__ import annotations

from typing import Any

import pytest

from carefund.care.demo import seed_care
from carefund.outcomes import selectors
from carefund.outcomes.demo import seed_outcomes
from carefund.outcomes.models import Enrolment, Observation


@pytest.mark.django_db
def test_demo_cohort_follows_the_published_effect_and_is_idempotent(frozen: Any) -> None:
    care = seed_care(allow_accounts=False)
    first = seed_outcomes(james=care.children["james"])
    assert first.synthetic_children == 137
    assert first.synthetic.is_synthetic and "SYNTHETIC" in first.synthetic.name
    assert first.synthetic.centres.count() == 5
    assert Enrolment.objects.filter(programme=first.synthetic, child__first_name__startswith="Synthetic").count() == 137
    # James: his surgery is weeks away in the care demo, so only his baseline is recorded, without consent yet
    james = first.james
    assert james is not None and not james.has_consent
    assert sorted(james.observations.values_list("measure__slug", "time_point__months")) == [
        ("gmfcs", 0),
        ("gmfm66", 0),
        ("pain", 0),
    ]
    count = Observation.objects.count()
    again = seed_outcomes(james=care.children["james"])
    assert again.synthetic_children == 137 and Observation.objects.count() == count
    result = selectors.evaluation_run(programme=first.synthetic, measure_slugs=["gmfm66"])
    assert result["synthetic"] is True and result["n_children"] == 137
    overall = result["measures"][0]["annual_change"]["overall"]
    lo, hi = overall["ci95"]
    assert overall["n_children"] == 137
    assert lo < 3.2 < hi  # the published CtE effect is inside the synthetic cohort's interval
    assert overall["estimate"] > overall["natural_history_rate"]
