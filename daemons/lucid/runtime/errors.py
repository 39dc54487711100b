"""Lucid's exception root and the named D-Bus errors every daemon shares.

The tree::

    LucidError
    ├── ConfigError          bad or unreadable configuration (one line, names the key)
    ├── DatabaseError        a daemon's SQLite database cannot be opened or migrated
    └── BusError             a D-Bus call failed; ``name`` is the D-Bus error name
        ├── NotAuthorizedError    io.lucid.Error.NotAuthorized: caller may not call this
        ├── NotFoundError         io.lucid.Error.NotFound: unknown session / item
        ├── InvalidArgumentError  io.lucid.Error.InvalidArgument
        ├── UnavailableError      io.lucid.Error.Unavailable (daemon down, name not owned)
        ├── NotApprovedError      io.lucid.Error.NotApproved: no approved grant (default deny)
        └── ...                   one subclass per name in ``ERRORS``

Daemon domain code raises ``BusError`` subclasses (or its own errors, translated at
``service.py``); the service adapter sends ``name`` and the message; clients turn the
name back into the same class with :func:`error_from_dbus`. This module does not import
the bus library.
"""

from __future__ import annotations

from typing import ClassVar

ERROR_PREFIX = "io.lucid.Error."


class LucidError(Exception):
    """Root of every error Lucid raises on purpose."""


class ConfigError(LucidError):
    """Configuration is missing, malformed or out of range."""


class DatabaseError(LucidError):
    """A daemon database cannot be opened, migrated or written."""


class BusError(LucidError):
    """A named error that crosses the bus. ``name`` is the full D-Bus error name."""

    name: ClassVar[str] = ERROR_PREFIX + "Failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthorizedError(BusError):
    """The caller is not allowed to call this method."""

    name = ERROR_PREFIX + "NotAuthorized"


class NotFoundError(BusError):
    """The session or item does not exist."""

    name = ERROR_PREFIX + "NotFound"


class InvalidArgumentError(BusError):
    """An argument is malformed or out of range."""

    name = ERROR_PREFIX + "InvalidArgument"


class UnavailableError(BusError):
    """The daemon that owns the name is not running or did not answer."""

    name = ERROR_PREFIX + "Unavailable"


class DisplayUnavailableError(BusError):
    """The session's X display cannot be opened."""

    name = ERROR_PREFIX + "DisplayUnavailable"


class StorageFullError(BusError):
    """The spool or the persistent store is full; nothing half-written was kept."""

    name = ERROR_PREFIX + "StorageFull"


class ConflictError(BusError):
    """The request conflicts with current state (e.g. session already recording)."""

    name = ERROR_PREFIX + "Conflict"


class NotApprovedError(BusError):
    """No approved grant covers this session (default deny)."""

    name = ERROR_PREFIX + "NotApproved"


class InternalError(BusError):
    """An unexpected failure inside a daemon (details are in its log, not on the bus)."""

    name = ERROR_PREFIX + "Internal"


class LimitExceededError(BusError):
    """walletd refused to sign: a configured spending limit (per transaction / per day)."""

    name = ERROR_PREFIX + "LimitExceeded"


class NodeUnavailableError(BusError):
    """A chain node (TRON HTTP API, EVM RPC) cannot be reached; the work is retried later."""

    name = ERROR_PREFIX + "NodeUnavailable"


class InsufficientBalanceError(BusError):
    """The paying account lacks the tokens (or the TRX for fees) for a transaction."""

    name = ERROR_PREFIX + "InsufficientBalance"


class BroadcastRejectedError(BusError):
    """The chain node refused a signed transaction (bad signature, expired, invalid)."""

    name = ERROR_PREFIX + "BroadcastRejected"


class TransactionFailedError(BusError):
    """A transaction was executed on chain and failed (reverted, out of energy)."""

    name = ERROR_PREFIX + "TransactionFailed"


class NotSupportedError(BusError):
    """The request is understood but this device cannot do it (configuration or signer)."""

    name = ERROR_PREFIX + "NotSupported"


ERRORS: dict[str, type[BusError]] = {
    cls.name: cls
    for cls in (
        BusError,
        NotAuthorizedError,
        NotFoundError,
        InvalidArgumentError,
        UnavailableError,
        DisplayUnavailableError,
        StorageFullError,
        ConflictError,
        NotApprovedError,
        InternalError,
        LimitExceededError,
        NodeUnavailableError,
        InsufficientBalanceError,
        BroadcastRejectedError,
        TransactionFailedError,
        NotSupportedError,
    )
}


def error_from_dbus(name: str, message: str) -> BusError:
    """Return the Lucid error for a D-Bus error name (``BusError`` for unknown ones).

    Args:
        name: the D-Bus error name, e.g. ``io.lucid.Error.NotFound``.
        message: the error text sent by the peer.
    Returns:
        An instance of the matching ``BusError`` subclass; foreign names (e.g.
        ``org.freedesktop.DBus.Error.ServiceUnknown``) map to ``UnavailableError``
        when they mean the peer is absent, else to ``BusError`` with the name kept.
    """
    cls = ERRORS.get(name)
    if cls is not None:
        return cls(message)
    if name in (
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
        "org.freedesktop.DBus.Error.NoReply",
        "org.freedesktop.DBus.Error.Disconnected",
        "org.freedesktop.DBus.Error.Timeout",
    ):
        return UnavailableError(f"{message} ({name})")
    err = BusError(f"{message} ({name})")
    return err
