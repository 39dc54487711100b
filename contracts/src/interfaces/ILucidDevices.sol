// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

/// @title ILucidDevices
/// @notice The device registry view other Lucid contracts rely on (implemented by
/// LucidAnchors): an EVM address is a Lucid device iff it has an identity key.
interface ILucidDevices {
    /// @notice The Ed25519 identity key registered for `device`, or zero if none.
    function identityOf(address device) external view returns (bytes32);
}
