"""The economics tests start each test with an empty cache (the root conftest): django-ratelimit counts the runs an
address starts in the shared "ratelimit" cache (ECONOMICS_RUNS_PER_ADDRESS), and the test client always posts from
the same address."""
