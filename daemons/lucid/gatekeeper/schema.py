"""gatekeeper's database schema (``<state>/gatekeeper/gatekeeper.db``).

Times are integer milliseconds since the epoch. Secrets (enrollment codes) are stored only
as SHA-256 digests; private keys are never here (passkeys keep theirs).
"""

from __future__ import annotations

from lucid.gatekeeper import requests

MIGRATIONS = [
    """
    CREATE TABLE policies (
        version INTEGER PRIMARY KEY,
        document TEXT NOT NULL,          -- canonical JSON (lucid.policy)
        hash TEXT NOT NULL UNIQUE,       -- policy_hash, hex
        set_ms INTEGER NOT NULL,
        set_by TEXT NOT NULL
    );
    CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        request TEXT NOT NULL,           -- canonical JSON (Request)
        user TEXT NOT NULL,
        target TEXT NOT NULL,
        requested_ms INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN
            ('pending', 'approved', 'denied', 'expired', 'active', 'ended', 'revoked')),
        updated_ms INTEGER NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        scope TEXT,                      -- granted Scope JSON (NULL: no grant)
        policy_version INTEGER REFERENCES policies(version),
        approved_ms INTEGER,
        expires_ms INTEGER,
        started_ms INTEGER,
        max_end_ms INTEGER,
        via_window TEXT
    );
    CREATE INDEX requests_state ON requests(state);
    CREATE INDEX requests_user_target ON requests(user, target);
    CREATE TABLE approvals (
        session TEXT NOT NULL REFERENCES requests(id),
        account TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
        method TEXT NOT NULL CHECK (method IN ('passkey', 'password')),
        policy_version INTEGER NOT NULL,
        record TEXT NOT NULL,            -- canonical JSON (ApprovalRecord)
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (session, account, policy_version)
    );
    CREATE TABLE documents (
        nonce TEXT PRIMARY KEY,
        session TEXT NOT NULL,
        account TEXT NOT NULL,
        document TEXT NOT NULL,          -- canonical JSON, exactly as issued
        expires_ms INTEGER NOT NULL,
        used INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE accounts (
        account TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'auditor', 'viewer')),
        user_handle BLOB NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE credentials (
        id TEXT PRIMARY KEY,             -- credential id, base64url
        account TEXT NOT NULL REFERENCES accounts(account),
        public_key BLOB NOT NULL UNIQUE, -- COSE_Key as registered (one account per key)
        alg INTEGER NOT NULL,
        sign_count INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE registrations (
        challenge BLOB PRIMARY KEY,
        account TEXT NOT NULL,
        user_handle BLOB NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE TABLE enrollments (
        code_hash TEXT PRIMARY KEY,      -- SHA-256 of the code, hex
        account TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'auditor', 'viewer')),
        expires_ms INTEGER NOT NULL,
        used_ms INTEGER
    );
    """,
    requests.BOOT_MIGRATION,  # 2: the appliance boot each request was filed in
]
