"""Parsing the driver options shared by several backends (from URLs or keyword arguments)."""

from __future__ import annotations

import ssl
from typing import Any

__all__ = ["parse_bool", "parse_ssl"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def parse_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"option {name!r} must be true or false, got {value!r}")


def parse_ssl(value: Any, options: dict[str, Any]) -> Any:
    """``ssl=`` as an ``SSLContext``, a bool, or a libpq-style mode (with ``sslrootcert``)."""
    if isinstance(value, ssl.SSLContext) or value is None:
        return value
    if isinstance(value, bool):
        return value
    mode = str(value).strip().lower()
    if mode in _TRUE:
        mode = "require"
    if mode in _FALSE:
        mode = "disable"
    if mode not in _SSL_MODES:
        raise ValueError(f"option 'ssl' must be one of {', '.join(_SSL_MODES)}, got {value!r}")
    cafile = options.get("sslrootcert")
    if mode in ("verify-ca", "verify-full"):
        context = ssl.create_default_context(cafile=cafile)
        context.check_hostname = mode == "verify-full"
        return context
    if mode == "disable":
        return False
    if mode in ("allow", "prefer"):
        return mode
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
