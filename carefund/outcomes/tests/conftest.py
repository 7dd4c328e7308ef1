from carefund.outcomes.tests.fixtures import frozen, registry  # noqa: F401 (fixtures)
