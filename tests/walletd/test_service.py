from __future__ import annotations

import nacl.bindings
import pytest
from dbus_fast.aio import MessageBus

from lucid.evidence.keyfile import RecipientKey
from lucid.runtime.errors import InvalidArgumentError, NotAuthorizedError, NotFoundError
from lucid.walletd.client import WalletdClient
from tests.conftest import LucidEnv


async def test_identity_is_stable_across_restarts(lucid: LucidEnv, bus: MessageBus) -> None:
    ds = await lucid.start("walletd")
    client = WalletdClient(bus)
    first = await client.get_identity()
    assert len(bytes.fromhex(first["ed25519"])) == 32
    await ds.stop("walletd")
    await ds.start("walletd")
    assert await client.get_identity() == first
    key_file = lucid.state / "walletd" / "identity.ed25519"
    assert key_file.stat().st_mode & 0o077 == 0


async def test_data_keys_only_for_the_encryptor(lucid: LucidEnv, bus: MessageBus) -> None:
    auditor = RecipientKey.generate()
    lucid.set("walletd", "recipients", auditor.public.hex())
    await lucid.start("walletd")
    client = WalletdClient(bus)
    with pytest.raises(NotAuthorizedError):
        await client.create_data_key("s1")
    await bus.request_name("io.lucid.Encryptor1")
    key = await client.create_data_key("s1")
    assert await client.create_data_key("s1") == key  # idempotent
    assert await client.open_data_key("s1") == key
    recipients = await client.get_recipients("s1")
    assert len(recipients) == 2
    sealed = {bytes.fromhex(r): bytes.fromhex(s) for r, s in recipients}
    opened = nacl.bindings.crypto_box_seal_open(
        sealed[auditor.public], auditor.public, auditor.secret
    )
    assert opened == key
    with pytest.raises(NotFoundError):
        await client.open_data_key("nope")
    with pytest.raises(InvalidArgumentError):
        await client.create_data_key("../etc")


async def test_signs_only_manifests_for_merkle(lucid: LucidEnv, bus: MessageBus) -> None:
    await lucid.start("walletd")
    client = WalletdClient(bus)
    message = b"lucid.manifest.v1\x00{}"
    with pytest.raises(NotAuthorizedError):
        await client.sign_manifest(message)
    await bus.request_name("io.lucid.Merkle1")
    with pytest.raises(InvalidArgumentError):
        await client.sign_manifest(b"anything else")
    sig = await client.sign_manifest(message)
    pub = bytes.fromhex((await client.get_identity())["ed25519"])
    assert nacl.bindings.crypto_sign_open(sig + message, pub) == message
