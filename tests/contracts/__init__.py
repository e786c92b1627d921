"""Contract test suites that every backend of a role must pass (see tests/test_*_contract.py)."""
