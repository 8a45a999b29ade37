"""The demo application run by ``make demo``."""
