"""The funding tests' world (the care demo seeded in 2015, the NHS programmes, a published surplus policy) for the
pages' tests, and the outcomes registry's (a centre, its clinicians, James on the registry)."""

from carefund.funding.tests.conftest import clock_2015, world  # noqa: F401 - fixtures
from carefund.outcomes.tests.fixtures import frozen, registry  # noqa: F401 - fixtures
