// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title ParamRegistry
/// @notice Network parameters (epoch length, payout caps, retention minimums, ...) as
/// `bytes32` keys to `uint256` values, each inside bounds fixed when it is defined.
/// @dev Owned by the governance timelock in production: defining and setting a parameter
/// then takes a proposal, a vote and the timelock delay. Bounds let governance bind its
/// own future changes to a sane range; widening them is itself a proposal.
contract ParamRegistry is Ownable2Step {
    /// @notice A parameter's allowed range and current value.
    struct Param {
        uint256 min;
        uint256 max;
        uint256 value;
        bool defined;
    }

    mapping(bytes32 key => Param) private _params;

    /// @notice `key` now accepts values in [min, max].
    event ParamDefined(bytes32 indexed key, uint256 min, uint256 max);
    /// @notice `key` changed from `oldValue` to `newValue`.
    event ParamSet(bytes32 indexed key, uint256 oldValue, uint256 newValue);

    /// @notice `key` was never defined.
    error UnknownParam(bytes32 key);
    /// @notice `min` is above `max`.
    error BadBounds(uint256 min, uint256 max);
    /// @notice `value` is outside the parameter's bounds.
    error OutOfBounds(bytes32 key, uint256 value, uint256 min, uint256 max);

    /// @param owner_ Initial owner (the timelock, or a deployer that hands over).
    constructor(address owner_) Ownable(owner_) {}

    /// @notice Define (or re-bound) `key` with range [min, max] and set it to `value`.
    function defineParam(bytes32 key, uint256 min, uint256 max, uint256 value) external onlyOwner {
        if (min > max) revert BadBounds(min, max);
        Param storage p = _params[key];
        p.min = min;
        p.max = max;
        p.defined = true;
        emit ParamDefined(key, min, max);
        _set(key, p, value);
    }

    /// @notice Set a defined parameter to `value`, within its bounds.
    function set(bytes32 key, uint256 value) external onlyOwner {
        Param storage p = _params[key];
        if (!p.defined) revert UnknownParam(key);
        _set(key, p, value);
    }

    /// @notice The value of `key`; reverts with {UnknownParam} if it was never defined.
    function get(bytes32 key) external view returns (uint256) {
        Param storage p = _params[key];
        if (!p.defined) revert UnknownParam(key);
        return p.value;
    }

    /// @notice The full record of `key` (all zero and `defined == false` if unknown).
    function param(bytes32 key) external view returns (Param memory) {
        return _params[key];
    }

    function _set(bytes32 key, Param storage p, uint256 value) private {
        if (value < p.min || value > p.max) revert OutOfBounds(key, value, p.min, p.max);
        uint256 old = p.value;
        p.value = value;
        emit ParamSet(key, old, value);
    }
}
