"""Fixtures of the prompting tests that the command tests use too."""

from tests.prompting.conftest import tiny_dataset, tiny_weights  # noqa: F401
