"""Suites users run with ``pytest --robustcheck``; each module declares one or more ``Suite`` objects."""
