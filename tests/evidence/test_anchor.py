"""lucid.evidence.anchor: the batch tree, anchor.json, its offline check inside
verify_bundle, and verify_online's decisions against an in-memory JSON-RPC (the real chain
is in tests/chain_client/test_verify_rpc.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import blake3
import nacl.signing
import pytest

from lucid.evidence.anchor import (
    ANCHORED_TOPIC,
    IDENTITY_OF_SELECTOR,
    AnchorProof,
    RpcError,
    anchor_leaf,
    batch_root,
    binding_message,
    http_rpc,
    verify_online,
)
from lucid.evidence.canonical import canonical_json
from lucid.evidence.errors import FormatError, VerificationError
from lucid.evidence.tree import node_hash
from lucid.evidence.verify import verify_bundle
from tests.evidence.anchor_helpers import anchor_for, bundle_with, sign_binding
from tests.evidence.helpers import Sample

DOC_ROOT = "dc75986b6a3a38a290fa10ccfb7d7bb94c206100fe2207e152eff4627a6e4aa9"  # §12.2


def test_batch_leaf_and_tree_are_domain_separated() -> None:
    root = bytes(range(32))
    leaf = anchor_leaf("s1", root)
    assert leaf == blake3.blake3(b"lucid.anchor.v1\x00s1\x00" + root).digest()
    assert batch_root([leaf]) == leaf
    other = anchor_leaf("s2", root)
    assert batch_root([leaf, other]) == node_hash(leaf, other)
    assert anchor_leaf("s1", root) != anchor_leaf("s1x", root)  # names are 0x00-terminated


def test_docs_example() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "evidence.md").read_text()
    s1 = anchor_leaf("s1", bytes.fromhex(DOC_ROOT))
    s2 = anchor_leaf("s2", b"\x02" * 32)
    for value in (s1, s2, batch_root([s1, s2])):
        assert value.hex() in text
    assert "6c756369642e62696e642e763100 65766d3a 3561" in text
    assert (
        binding_message("0x" + "5a" * 20)
        .hex()
        .startswith("6c756369642e62696e642e76310065766d3a3561")
    )


def test_constants_are_the_keccak_of_the_contract_interface() -> None:
    from eth_utils.crypto import keccak

    assert "0x" + keccak(text="Anchored(address,bytes32,uint32,bytes)").hex() == ANCHORED_TOPIC
    assert "0x" + keccak(text="identityOf(address)")[:4].hex() == IDENTITY_OF_SELECTOR


def test_good_proof_verifies_inside_the_bundle(sample: Sample, tmp_path: Path) -> None:
    proof = anchor_for(sample)
    assert AnchorProof.from_bytes(proof.to_bytes()) == proof
    report = verify_bundle(bundle_with(sample, tmp_path / "a.lucid", proof))
    assert report.anchor == proof
    assert "anchor.json" not in report.unverified_members


def test_bundle_without_anchor_reports_none(sample: Sample) -> None:
    assert verify_bundle(sample.path).anchor is None


@pytest.mark.parametrize(
    ("change", "item"),
    [
        (lambda p: replace(p, session_root=bytes(32)), "anchor.session_root"),
        (lambda p: replace(p, leaf_index=1), "anchor.path"),
        (lambda p: replace(p, batch_size=4), "anchor.path"),
        (lambda p: replace(p, batch_root=bytes(32)), "anchor.path"),
        (lambda p: replace(p, path=(bytes(32), *p.path[1:])), "anchor.path"),
        (lambda p: replace(p, path=p.path[:-1]), "anchor.path"),
        (lambda p: replace(p, device="0x" + "5b" * 20), "anchor.binding"),
        (
            lambda p: replace(
                p, binding=sign_binding(nacl.signing.SigningKey.generate(), p.device)
            ),
            "anchor.binding",
        ),
    ],
)
def test_tampered_proof_fails_naming_the_item(
    sample: Sample, tmp_path: Path, change: Any, item: str
) -> None:
    bad = change(anchor_for(sample))
    with pytest.raises(VerificationError) as err:
        verify_bundle(bundle_with(sample, tmp_path / "bad.lucid", bad))
    assert err.value.item == item
    assert str(err.value).startswith(item + ":")


def test_proof_of_another_session_fails(
    sample: Sample, sample_factory: Any, tmp_path: Path
) -> None:
    other = sample_factory(name="other-session")
    with pytest.raises(VerificationError) as err:
        verify_bundle(bundle_with(sample, tmp_path / "x.lucid", anchor_for(other)))
    assert err.value.item == "anchor.session"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"tx_hash": "0x" + "7E" * 32}, "tx_hash: expected a 32-byte hash"),
        ({"contract": "c0" * 20}, "contract: expected a 20-byte address"),
        ({"version": 2}, "unsupported version 2"),
        ({"leaf_index": 5}, "leaf_index: 5 is not a leaf of a batch of 5"),
        ({"chain_id": 0}, "chain_id: 0 is out of range"),
        ({"extra": 1}, "extra: unknown field"),
        ({"binding": "00" * 63}, "binding: expected 128 lowercase hex digits"),
    ],
)
def test_malformed_anchor_json_is_a_format_error(
    sample: Sample, tmp_path: Path, edit: dict[str, Any], message: str
) -> None:
    doc = anchor_for(sample).to_dict() | edit
    with pytest.raises(FormatError, match=message.replace("(", r"\(")):
        verify_bundle(bundle_with(sample, tmp_path / "f.lucid", canonical_json(doc)))


def test_non_canonical_anchor_json_is_a_format_error(sample: Sample, tmp_path: Path) -> None:
    pretty = json.dumps(anchor_for(sample).to_dict(), indent=1).encode()
    with pytest.raises(FormatError, match="not in canonical form"):
        verify_bundle(bundle_with(sample, tmp_path / "p.lucid", pretty))


class FakeRpc:
    """An honest in-memory JSON-RPC endpoint holding one anchor transaction."""

    def __init__(self, proof: AnchorProof, identity: bytes) -> None:
        self.chain_id = proof.chain_id
        self.latest = proof.block_number + 4
        self.receipt: dict[str, Any] | None = {
            "status": "0x1",
            "to": proof.contract,
            "from": proof.device,
            "blockNumber": hex(proof.block_number),
            "blockHash": proof.block_hash,
            "logs": [
                {
                    "address": proof.contract,
                    "topics": [
                        ANCHORED_TOPIC,
                        "0x" + proof.device[2:].rjust(64, "0"),
                        "0x" + proof.batch_root.hex(),
                    ],
                    "data": "0x" + proof.batch_size.to_bytes(32, "big").hex() + "00" * 64,
                }
            ],
        }
        self.canonical = {proof.block_number: proof.block_hash}
        self.identity = "0x" + identity.hex()
        self.down = False

    def __call__(self, method: str, params: list[Any]) -> Any:
        if self.down:
            raise RpcError("cannot ask the fake endpoint")
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method == "eth_getTransactionReceipt":
            return self.receipt
        if method == "eth_getBlockByNumber":
            block_hash = self.canonical.get(int(params[0], 16))
            return {"hash": block_hash} if block_hash else None
        if method == "eth_call":
            assert params[0]["data"].startswith(IDENTITY_OF_SELECTOR)
            return self.identity
        if method == "eth_blockNumber":
            return hex(self.latest)
        raise AssertionError(method)


def test_online_check_accepts_the_chain_that_agrees(sample: Sample) -> None:
    proof = anchor_for(sample)
    rpc = FakeRpc(proof, sample.manifest.device.ed25519)
    report = verify_online(proof, rpc, identity_key=sample.manifest.device.ed25519)
    assert (report.chain_id, report.confirmations) == (31337, 5)


def _mutations(proof: AnchorProof) -> list[tuple[str, Any]]:
    def receipt(**kv: Any) -> Any:
        return lambda rpc: rpc.receipt.update(kv)

    def log(index: int, value: str) -> Any:
        return lambda rpc: rpc.receipt["logs"][0]["topics"].__setitem__(index, value)

    return [
        ("anchor.chain_id", lambda rpc: setattr(rpc, "chain_id", 1)),
        ("anchor.tx_hash", lambda rpc: setattr(rpc, "receipt", None)),
        ("anchor.tx_status", receipt(status="0x0")),
        ("anchor.contract", receipt(to="0x" + "99" * 20)),
        ("anchor.device", receipt(**{"from": "0x" + "98" * 20})),
        ("anchor.block_number", receipt(blockNumber=hex(proof.block_number + 1))),
        ("anchor.block_hash", receipt(blockHash="0x" + "ee" * 32)),
        (
            "anchor.block_hash",
            lambda rpc: rpc.canonical.update({proof.block_number: "0x" + "ef" * 32}),
        ),
        ("anchor.batch_root", log(2, "0x" + "00" * 32)),
        ("anchor.batch_root", log(0, "0x" + "00" * 32)),
        ("anchor.batch_root", lambda rpc: rpc.receipt["logs"][0].update(address="0x" + "97" * 20)),
        (
            "anchor.batch_size",
            lambda rpc: rpc.receipt["logs"][0].update(data="0x" + (9).to_bytes(32, "big").hex()),
        ),
        ("anchor.identity", lambda rpc: setattr(rpc, "identity", "0x" + "00" * 32)),
    ]


@pytest.mark.parametrize("case", range(13))
def test_online_check_names_what_the_chain_disagrees_on(sample: Sample, case: int) -> None:
    proof = anchor_for(sample)
    rpc = FakeRpc(proof, sample.manifest.device.ed25519)
    item, mutate = _mutations(proof)[case]
    mutate(rpc)
    with pytest.raises(VerificationError) as err:
        verify_online(proof, rpc, identity_key=sample.manifest.device.ed25519)
    assert err.value.item == item, err.value
    assert "chain has" in str(err.value) or "no " in str(err.value)


def test_block_hash_message_names_both_sides(sample: Sample) -> None:
    proof = anchor_for(sample)
    rpc = FakeRpc(proof, sample.manifest.device.ed25519)
    rpc.receipt["blockHash"] = "0x" + "ee" * 32  # type: ignore[index]  # set in __init__
    with pytest.raises(VerificationError) as err:
        verify_online(proof, rpc)
    assert str(err.value) == (
        f"anchor.block_hash: chain has 0x{'ee' * 32}, proof says {proof.block_hash}"
    )


def test_unreachable_endpoint_is_an_rpc_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RpcError, match="cannot ask"):
        http_rpc(f"http://127.0.0.1:{port}", timeout_s=2)("eth_chainId", [])
