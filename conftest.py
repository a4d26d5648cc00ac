"""Shared fixtures: personas, factories and browser helpers live in
newsroom/testing/; this file only makes them visible to every test."""

pytest_plugins = ["newsroom.testing.fixtures", "newsroom.testing.workers"]
