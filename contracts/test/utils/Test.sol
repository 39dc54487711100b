// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {Vm} from "./Vm.sol";

/// @title Test
/// @notice A minimal test base in place of forge-std's: the cheatcode handle, a `bound`
/// for fuzz inputs, and the `log_named_*` events forge prints with `-vv`.
abstract contract Test {
    /// @dev forge recognises test contracts by their `test*` functions; this flag is
    /// kept for tools that still look for it.
    bool public constant IS_TEST = true;

    /// @dev address(uint160(uint256(keccak256("hevm cheat code")))).
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    event log_named_uint(string key, uint256 val);
    event log_named_bytes32(string key, bytes32 val);

    /// @dev Map `x` into [min, max] without rejecting fuzz runs.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + (x % (size + 1));
    }

    /// @dev A fresh, labelled address derived from `name`.
    function makeAddr(string memory name) internal returns (address a) {
        a = vm.addr(uint256(keccak256(bytes(name))));
        vm.label(a, name);
    }
}
