"""Auditor recipients the owner adds (AddRecipient, admin-ui only): sessions recorded after
the addition are readable with the auditor's key, earlier ones are not; the list survives a
restart; bad keys and repeats are refused with a named error."""

from __future__ import annotations

import nacl.bindings
import pytest
from dbus_fast.aio import MessageBus

from lucid.evidence.keyfile import RecipientKey
from lucid.runtime.errors import ConflictError, InvalidArgumentError, NotAuthorizedError
from lucid.walletd.client import WalletdClient
from tests.conftest import LucidEnv


def opens(recipients: list[tuple[str, str]], auditor: RecipientKey) -> bytes | None:
    sealed = {bytes.fromhex(r): bytes.fromhex(s) for r, s in recipients}
    if auditor.public not in sealed:
        return None
    return bytes(
        nacl.bindings.crypto_box_seal_open(sealed[auditor.public], auditor.public, auditor.secret)
    )


async def test_only_admin_ui_adds_a_recipient(lucid: LucidEnv, bus: MessageBus) -> None:
    await lucid.start("walletd")
    client = WalletdClient(bus)
    auditor = RecipientKey.generate()
    with pytest.raises(NotAuthorizedError):
        await client.add_recipient(auditor.public.hex(), "mallory's", "owner1")
    await bus.request_name("io.lucid.Encryptor1")  # another daemon's name is not enough
    with pytest.raises(NotAuthorizedError):
        await client.add_recipient(auditor.public.hex(), "mallory's", "owner1")
    assert await client.list_recipients() == []


async def test_sessions_after_the_addition_open_with_the_key(
    lucid: LucidEnv, bus: MessageBus
) -> None:
    ds = await lucid.start("walletd")
    client = WalletdClient(bus)
    await bus.request_name("io.lucid.Encryptor1")
    await bus.request_name("io.lucid.AdminUi1")
    before = await client.create_data_key("before-1")

    auditor = RecipientKey.generate()
    added = await client.add_recipient(auditor.public.hex(), "audit team", "alice")
    assert added["x25519"] == auditor.public.hex() and added["source"] == "owner"
    assert added["label"] == "audit team" and added["added_by"] == "alice"
    assert float(added["added_at"]) > 0

    after = await client.create_data_key("after-1")
    assert opens(await client.get_recipients("after-1"), auditor) == after
    # a session keyed before the addition stays readable by the device only
    assert opens(await client.get_recipients("before-1"), auditor) is None
    assert await client.open_data_key("before-1") == before

    await ds.stop("walletd")
    await ds.start("walletd")
    listed = await client.list_recipients()
    assert [r["x25519"] for r in listed] == [auditor.public.hex()]
    later = await client.create_data_key("after-2")
    assert opens(await client.get_recipients("after-2"), auditor) == later


async def test_bad_keys_and_repeats_are_refused(lucid: LucidEnv, bus: MessageBus) -> None:
    configured = RecipientKey.generate()
    lucid.set("walletd", "recipients", configured.public.hex())
    await lucid.start("walletd")
    client = WalletdClient(bus)
    await bus.request_name("io.lucid.AdminUi1")
    device = (await client.get_identity())["x25519"]
    for bad in ("zz" * 32, "ab" * 31, "00" * 32, ""):
        with pytest.raises(InvalidArgumentError):
            await client.add_recipient(bad, "", "alice")
    with pytest.raises(InvalidArgumentError):
        await client.add_recipient(RecipientKey.generate().public.hex(), "a\nb", "alice")
    for taken in (device, configured.public.hex()):
        with pytest.raises(ConflictError):
            await client.add_recipient(taken, "", "alice")
    key = RecipientKey.generate().public.hex()
    await client.add_recipient(key, "", "alice")
    with pytest.raises(ConflictError):
        await client.add_recipient(key, "again", "alice")
    listed = await client.list_recipients()
    assert [(r["x25519"], r["source"]) for r in listed] == [
        (configured.public.hex(), "config"),
        (key, "owner"),
    ]
