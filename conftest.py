"""Test-wide settings: fast password hashing, email to memory, tasks run at once, a fresh clock."""

from __future__ import annotations

import pytest
from django.db.backends.signals import connection_created
from hypothesis import settings as hypothesis_settings

# Property tests check behaviour, not speed: a machine busy with other work must not fail them on hypothesis's
# per-example deadline (200 ms by default). Speed is measured in benchmarks/.
hypothesis_settings.register_profile("carefund", deadline=None)
hypothesis_settings.load_profile("carefund")


def _allow_flush_between_tests(sender, connection, **kwargs):  # type: ignore[no-untyped-def]
    """PostgreSQL refuses TRUNCATE of the append-only tables unless the session says carefund.allow_truncate (core
    migration 0003): the tests' flush between transactional tests truncates every table, so their sessions say it.
    Tests of the refusal turn it off again (SET LOCAL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET carefund.allow_truncate = 'on'")


connection_created.connect(_allow_flush_between_tests, dispatch_uid="carefund.tests.allow_flush")


@pytest.fixture(autouse=True)
def _test_settings(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.AXES_ENABLED = True
    # the built-in test gateway takes the tests' gifts (tests run with DEBUG off, like a server)
    settings.PAYMENTS_TEST_MODE = True
    yield


@pytest.fixture
def db_queue(settings):  # type: ignore[no-untyped-def]
    """Tasks go to the database queue, as in production; the test runs them with `campaigns.tests.factories.run_worker`
    (the worker's own code)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    yield


@pytest.fixture(autouse=True)
def _clear_cache(request):  # type: ignore[no-untyped-def]
    """Every test starts and ends with an empty Django cache (the campaign page's cached parts, for one). The rate
    limits' counts are in a table of the database ("ratelimit" cache): a test's rows roll back with it, but a
    transactional test's stay, so such a test starts with none."""
    from django.core.cache import cache, caches

    cache.clear()
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
        caches["ratelimit"].clear()
    yield
    cache.clear()


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Tests marked `postgres` run only when the database is PostgreSQL."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
