"""Shared fixtures: personas, factories and browser helpers live in
testing/; this file only makes them visible to every test."""

pytest_plugins = ["testing.fixtures", "testing.workers"]
