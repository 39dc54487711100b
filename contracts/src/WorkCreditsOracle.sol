// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title WorkCreditsOracle
/// @notice Work credits (uptime, sessions served) per host per epoch, as computed off-chain
/// by the documented credit rule and posted by an oracle. An epoch stays open to
/// corrections until the oracle finalizes it; after that its credits never change, and
/// payouts may be computed from them.
/// @dev Roles: DEFAULT_ADMIN_ROLE (the timelock) grants and revokes ORACLE_ROLE.
contract WorkCreditsOracle is AccessControl {
    /// @notice May post credits and finalize epochs.
    bytes32 public constant ORACLE_ROLE = keccak256("ORACLE_ROLE");

    mapping(uint64 epoch => mapping(address host => uint256 credits)) private _credits;
    mapping(uint64 epoch => uint256 total) private _total;
    mapping(uint64 epoch => bool final_) private _final;

    /// @notice `host` has `credits` in `epoch` (replacing any earlier value).
    event CreditsPosted(uint64 indexed epoch, address indexed host, uint256 credits);
    /// @notice `epoch` is closed with `total` credits over all hosts.
    event EpochFinalized(uint64 indexed epoch, uint256 total);

    /// @notice `epoch` is final; its credits can no longer change.
    error EpochIsFinal(uint64 epoch);
    /// @notice `hosts` and `credits` differ in length.
    error LengthMismatch(uint256 hosts, uint256 credits);
    /// @notice The zero address cannot earn credits.
    error ZeroHost();

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (the timelock).
    /// @param oracle Initial holder of ORACLE_ROLE.
    constructor(address admin, address oracle) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ORACLE_ROLE, oracle);
    }

    /// @notice Set the credits of `hosts[i]` in `epoch` to `credits[i]`.
    function post(uint64 epoch, address[] calldata hosts, uint256[] calldata credits)
        external
        onlyRole(ORACLE_ROLE)
    {
        if (_final[epoch]) revert EpochIsFinal(epoch);
        if (hosts.length != credits.length) revert LengthMismatch(hosts.length, credits.length);
        uint256 total = _total[epoch];
        for (uint256 i = 0; i < hosts.length; ++i) {
            address host = hosts[i];
            if (host == address(0)) revert ZeroHost();
            total = total - _credits[epoch][host] + credits[i];
            _credits[epoch][host] = credits[i];
            emit CreditsPosted(epoch, host, credits[i]);
        }
        _total[epoch] = total;
    }

    /// @notice Close `epoch`: its credits become final.
    function finalize(uint64 epoch) external onlyRole(ORACLE_ROLE) {
        if (_final[epoch]) revert EpochIsFinal(epoch);
        _final[epoch] = true;
        emit EpochFinalized(epoch, _total[epoch]);
    }

    /// @notice Credits of `host` in `epoch`.
    function creditsOf(uint64 epoch, address host) external view returns (uint256) {
        return _credits[epoch][host];
    }

    /// @notice Sum of all hosts' credits in `epoch`.
    function totalCredits(uint64 epoch) external view returns (uint256) {
        return _total[epoch];
    }

    /// @notice Whether `epoch` is finalized.
    function isFinal(uint64 epoch) external view returns (bool) {
        return _final[epoch];
    }
}
