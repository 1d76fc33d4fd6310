"""Root conftest: makes tests/conftest.py settings apply to notebooks collected by nbval too."""

pytest_plugins = ["tests.conftest"]
