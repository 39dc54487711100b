"""walletd's database schema: numbered migrations (``lucid.runtime.db``), never edited once
released; a change is a new migration at the end."""

from __future__ import annotations

from lucid.walletd import datakeys, limits

MIGRATIONS = [
    datakeys.MIGRATION,  # 1: per-session data keys, kept only wrapped
    limits.MIGRATION,  # 2: chain spends signed, for the per-day limits
    datakeys.RECIPIENTS_MIGRATION,  # 3: auditor recipients the owner added
]
