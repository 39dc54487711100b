// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";

/// @title LucidToken
/// @notice The LUCID governance token: a fixed-supply ERC-20 with EIP-2612 permits and
/// delegated votes (ERC20Votes) for LucidGovernor.
/// @dev The whole supply is minted once, to `recipient`; there is no mint function
/// afterwards. Votes are checkpointed by timestamp (ERC-6372 `mode=timestamp`), so
/// governance periods are in seconds on any chain, whatever its block time.
contract LucidToken is ERC20, ERC20Permit, ERC20Votes {
    /// @param recipient Receives the whole supply (a treasury or the timelock).
    /// @param supply Total supply in the smallest unit (18 decimals).
    constructor(address recipient, uint256 supply) ERC20("Lucid", "LUCID") ERC20Permit("Lucid") {
        _mint(recipient, supply);
    }

    /// @notice ERC-6372 clock: the block timestamp.
    function clock() public view override returns (uint48) {
        return Time.timestamp();
    }

    /// @notice ERC-6372 clock description.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }
}
