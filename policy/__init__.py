"""CrossGuard policy pack; importable as `policy` so the tests can reach `policy.rules`."""
