// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {ILucidDevices} from "./interfaces/ILucidDevices.sol";

/// @title LucidAnchors
/// @notice Timestamps batches of sealed Lucid session roots. A device first registers
/// its EVM address bound to its Ed25519 identity key, then anchors one batch root per
/// transaction; the `Anchored` event (sender, root, count, meta) in a block is the proof
/// that the batch existed by that block.
/// @dev The Ed25519 binding cannot be checked on-chain (no precompile): the contract
/// stores the key per address and logs the binding so that any verifier can check it
/// offline against {bindingMessage}. Registration is permissionless; an address may
/// re-register to rotate its identity key, and the log keeps the history.
///
/// Cost is the design constraint (≤ 1,000 gas per session at 100 sessions a batch,
/// base fee included): one cold SLOAD for the registration, one fresh slot for the
/// by-root lookup, one LOG3.
contract LucidAnchors is ILucidDevices {
    /// @notice Where and by whom a root was first anchored.
    /// @dev Packed in one storage slot (160 + 64 bits).
    struct Anchor {
        address device;
        uint64 blockNumber;
    }

    /// @notice Length of an Ed25519 signature, the only binding accepted.
    uint256 public constant BINDING_LENGTH = 64;

    /// @notice Domain-separation prefix of the message the identity key signs.
    bytes public constant BINDING_PREFIX = "lucid.bind.v1\x00evm:";

    mapping(address device => bytes32 identityKey) private _identityOf;
    mapping(bytes32 root => Anchor) private _anchorOf;

    /// @notice `device` bound itself to `identityKey`; `binding` is the Ed25519 signature
    /// by that key over `bindingMessage(device)`, to be verified off-chain.
    event DeviceRegistered(address indexed device, bytes32 identityKey, bytes binding);

    /// @notice `device` anchored the batch `root` covering `count` session roots.
    /// `meta` is opaque to the contract (chain-client's batch metadata).
    event Anchored(address indexed device, bytes32 indexed root, uint32 count, bytes meta);

    /// @notice The caller has no identity key registered.
    error NotRegistered(address device);
    /// @notice An identity key of all zeroes is never a valid Ed25519 public key here.
    error ZeroIdentityKey();
    /// @notice The binding is not a 64-byte Ed25519 signature.
    error BadBindingLength(uint256 length);
    /// @notice A batch must cover at least one session.
    error EmptyBatch();

    /// @notice Bind the caller's address to `identityKey` (an Ed25519 public key).
    /// @param identityKey The device's Ed25519 identity public key (32 bytes).
    /// @param binding Ed25519 signature by `identityKey` over `bindingMessage(msg.sender)`.
    /// Only its length is checked here.
    function registerDevice(bytes32 identityKey, bytes calldata binding) external {
        if (identityKey == bytes32(0)) revert ZeroIdentityKey();
        if (binding.length != BINDING_LENGTH) revert BadBindingLength(binding.length);
        _identityOf[msg.sender] = identityKey;
        emit DeviceRegistered(msg.sender, identityKey, binding);
    }

    /// @notice Anchor a batch root. Only a registered device may call.
    /// @dev Anchoring a root again succeeds and logs again, but {anchorOf} keeps the
    /// first (earliest) anchor: a retry after a lost receipt is harmless, and the
    /// oldest timestamp is the one evidence needs.
    /// @param root Root of the batch's Merkle tree over session roots.
    /// @param count Number of session roots in the batch (at least 1).
    /// @param meta Opaque batch metadata, logged only.
    function anchor(bytes32 root, uint32 count, bytes calldata meta) external {
        if (_identityOf[msg.sender] == bytes32(0)) revert NotRegistered(msg.sender);
        if (count == 0) revert EmptyBatch();
        Anchor storage slot = _anchorOf[root];
        if (slot.blockNumber == 0) {
            slot.device = msg.sender;
            slot.blockNumber = uint64(block.number);
        }
        emit Anchored(msg.sender, root, count, meta);
    }

    /// @notice The identity key registered for `device`, or zero if none.
    function identityOf(address device) external view returns (bytes32) {
        return _identityOf[device];
    }

    /// @notice The first anchor of `root`: its sender and block number (both zero if
    /// the root was never anchored).
    function anchorOf(bytes32 root) external view returns (address device, uint64 blockNumber) {
        Anchor memory a = _anchorOf[root];
        return (a.device, a.blockNumber);
    }

    /// @notice The exact bytes a device's identity key signs to bind `device`:
    /// "lucid.bind.v1\0evm:" followed by the address as 40 lowercase hex digits.
    function bindingMessage(address device) external pure returns (bytes memory message) {
        bytes16 digits = "0123456789abcdef";
        bytes memory hexAddress = new bytes(40);
        uint160 value = uint160(device);
        for (uint256 i = 40; i > 0; --i) {
            hexAddress[i - 1] = digits[value & 0xf];
            value >>= 4;
        }
        return bytes.concat(BINDING_PREFIX, hexAddress);
    }
}
