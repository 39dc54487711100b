// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {ILucidDevices} from "./interfaces/ILucidDevices.sol";

/// @title LucidChunkStore
/// @notice Public commitments of where a session's ciphertext is replicated and how long
/// it is kept, keyed by the session's Merkle root. The contract stores the hash of the
/// location list and the counts; the list itself (cloud object URLs, peer ids) is in the
/// `Committed` log, so a verifier can fetch it and hold the device to it.
/// @dev Only the ciphertext's locations are public, never a key. The device that first
/// commits a root owns its commitment: it may update the locations and replica counts
/// (replicas come and go) but may only extend the retention it promised, never shorten it.
contract LucidChunkStore {
    /// @notice A device's replication and retention promise for one session root.
    /// @dev Slot 1: device (160) + retainUntil (64) + cloudReplicas (16) + peerReplicas (16).
    struct Commitment {
        address device;
        uint64 retainUntil;
        uint16 cloudReplicas;
        uint16 peerReplicas;
        bytes32 locationsHash;
    }

    /// @notice The device registry (LucidAnchors): only registered devices may commit.
    ILucidDevices public immutable devices;

    mapping(bytes32 root => Commitment) private _commitmentOf;

    /// @notice `device` promised to keep the ciphertext of `root` until `retainUntil`
    /// (unix seconds) in the given numbers of cloud and peer replicas, at `locations`
    /// (opaque to the contract; `locationsHash` = keccak256(locations)).
    event Committed(
        bytes32 indexed root,
        address indexed device,
        uint64 retainUntil,
        uint16 cloudReplicas,
        uint16 peerReplicas,
        bytes32 locationsHash,
        bytes locations
    );

    /// @notice The caller has no identity key in the device registry.
    error NotRegistered(address device);
    /// @notice Another device owns the commitment of this root.
    error NotCommitter(bytes32 root, address committer);
    /// @notice Retention may be extended, never shortened.
    error RetentionShortened(uint64 current, uint64 requested);
    /// @notice Retention must end in the future.
    error RetentionInPast(uint64 retainUntil);
    /// @notice A commitment must name at least one replica.
    error NoReplicas();

    /// @param devices_ The device registry, normally the LucidAnchors deployment.
    constructor(ILucidDevices devices_) {
        devices = devices_;
    }

    /// @notice Create or update the caller's commitment for `root`.
    /// @param root The session's Merkle root.
    /// @param retainUntil Unix time (seconds) until which the ciphertext is kept; not
    /// earlier than a previous commitment's.
    /// @param cloudReplicas Number of copies in cloud (S3-compatible) stores.
    /// @param peerReplicas Number of copies on Lucid peers.
    /// @param locations Where the copies are (e.g. canonical JSON list of URLs and peer ids).
    function commit(
        bytes32 root,
        uint64 retainUntil,
        uint16 cloudReplicas,
        uint16 peerReplicas,
        bytes calldata locations
    ) external {
        if (devices.identityOf(msg.sender) == bytes32(0)) revert NotRegistered(msg.sender);
        if (retainUntil <= block.timestamp) revert RetentionInPast(retainUntil);
        if (cloudReplicas == 0 && peerReplicas == 0) revert NoReplicas();

        Commitment storage c = _commitmentOf[root];
        if (c.device == address(0)) {
            c.device = msg.sender;
        } else if (c.device != msg.sender) {
            revert NotCommitter(root, c.device);
        } else if (retainUntil < c.retainUntil) {
            revert RetentionShortened(c.retainUntil, retainUntil);
        }
        bytes32 locationsHash = keccak256(locations);
        c.retainUntil = retainUntil;
        c.cloudReplicas = cloudReplicas;
        c.peerReplicas = peerReplicas;
        c.locationsHash = locationsHash;
        emit Committed(root, msg.sender, retainUntil, cloudReplicas, peerReplicas, locationsHash, locations);
    }

    /// @notice The commitment for `root` (all zero if none).
    function commitmentOf(bytes32 root) external view returns (Commitment memory) {
        return _commitmentOf[root];
    }

    /// @notice Whether a commitment for `root` exists and its retention has not ended.
    function isRetained(bytes32 root) external view returns (bool) {
        return _commitmentOf[root].retainUntil >= block.timestamp;
    }
}
