"""Example applications built on asyncdb and orm (see docs/frameworks.md)."""
