// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {PayoutRouterBase} from "./PayoutRouterBase.sol";

/// @title PayoutRouterKYC
/// @notice The payout router for jurisdictions that require identified payees: only
/// addresses that a KYC_ROLE holder allow-listed may be paid. Its cap is usually set
/// higher than PayoutRouterV0's.
/// @dev The allow list holds addresses only; identity documents never touch the chain.
contract PayoutRouterKYC is PayoutRouterBase {
    /// @notice May add payees to and remove them from the allow list.
    bytes32 public constant KYC_ROLE = keccak256("KYC_ROLE");

    mapping(address payee => bool) private _allowed;

    /// @notice `payee` was added to (`allowed`) or removed from the allow list.
    event PayeeAllowed(address indexed payee, bool allowed);

    /// @notice `payee` is not on the allow list.
    error PayeeNotAllowed(address payee);

    /// @param token_ The token paid out.
    /// @param admin Holder of DEFAULT_ADMIN_ROLE.
    /// @param payer Initial holder of PAYER_ROLE.
    /// @param kyc Initial holder of KYC_ROLE.
    /// @param epochLength_ Cap epoch length in seconds.
    /// @param capPerEpoch_ Per-payee, per-epoch cap.
    constructor(
        IERC20 token_,
        address admin,
        address payer,
        address kyc,
        uint64 epochLength_,
        uint256 capPerEpoch_
    ) PayoutRouterBase(token_, admin, payer, epochLength_, capPerEpoch_) {
        _grantRole(KYC_ROLE, kyc);
    }

    /// @notice Add `payee` to (`allowed = true`) or remove it from the allow list.
    function setAllowed(address payee, bool allowed) external onlyRole(KYC_ROLE) {
        if (payee == address(0)) revert ZeroPayee();
        _allowed[payee] = allowed;
        emit PayeeAllowed(payee, allowed);
    }

    /// @notice Whether `payee` is on the allow list.
    function isAllowed(address payee) external view returns (bool) {
        return _allowed[payee];
    }

    function _checkPayee(address payee) internal view override {
        if (!_allowed[payee]) revert PayeeNotAllowed(payee);
    }
}
