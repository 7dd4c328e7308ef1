"""The registry's starting measures (GMFM-66, GMFCS, the seven CP-QoL domains, pain, adverse events), as data."""

from django.db import migrations


def load(apps, schema_editor):
    from carefund.outcomes.catalogue import MEASURES

    Measure = apps.get_model("outcomes", "Measure")
    for position, m in enumerate(MEASURES):
        Measure.objects.update_or_create(
            slug=m.slug,
            defaults={
                "name": m.name,
                "kind": m.kind,
                "unit": m.unit,
                "min_value": m.min_value,
                "max_value": m.max_value,
                "whole_numbers": m.whole_numbers,
                "higher_is_better": m.higher_is_better,
                "description": m.description,
                "source": m.source,
                "position": position,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
