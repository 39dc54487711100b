"""What a session's state is called when shown to a person (``lucid sessions``).

A session is known to two daemons at different times: the recorder while and after it records
(`lucid.recorder.client.RecordingInfo`: ``recording`` -> ``ended`` | ``failed``) and merkle
once it sealed the session or gave up (`lucid.merkle.client.SealInfo`: ``sealed`` |
``failed``). `display_state` joins the two into one word.

Pure: it reads the two payloads and does no I/O, and it does not import the bus library, so
the command line and the web page can both use it. It does not say whether a session is
anchored (chain-client's ``GetSession``) or complete (the payloads' ``complete``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the payload shapes only; the bus library is not imported at run time
    from lucid.merkle.client import SealInfo
    from lucid.recorder.client import RecordingInfo

SEALED = "sealed"
SEAL_FAILED = "seal-failed"
SEALING = "sealing"
UNKNOWN = "?"


def display_state(recording: RecordingInfo | None, seal: SealInfo | None) -> str:
    """One word for the session, given what the recorder and merkle say (None: no entry).

    Returns:
        ``sealed`` or ``seal-failed`` once merkle has an entry (any merkle state other than
        ``sealed`` counts as failed); else ``sealing`` for a recording that ended; else the
        recorder's own state (``recording``, ``failed``, or one a newer recorder adds); ``?``
        when neither daemon has an entry.
    """
    if seal is not None:
        return SEALED if seal["state"] == "sealed" else SEAL_FAILED
    if recording is None:
        return UNKNOWN
    return SEALING if recording["state"] == "ended" else recording["state"]
