"""The funding tests' world (the care demo seeded in 2015, the NHS programmes, a published surplus policy) for the
pages' tests."""

from carefund.funding.tests.conftest import clock_2015, world  # noqa: F401 - fixtures
