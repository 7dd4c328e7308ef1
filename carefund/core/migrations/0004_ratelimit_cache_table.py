"""The table of the shared "ratelimit" cache (settings.CACHES): the rate limits' counts, shared by every server process
(docs/adr/0031-shared-rate-limits.md). Made here so that every database that is migrated has it; `createcachetable`
is idempotent (it makes only the tables missing), so running it again by hand does no harm."""

from django.core.management import call_command
from django.db import migrations


def forwards(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_refuse_truncate")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
