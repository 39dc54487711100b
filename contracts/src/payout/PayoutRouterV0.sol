// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {PayoutRouterBase} from "./PayoutRouterBase.sol";

/// @title PayoutRouterV0
/// @notice The permissionless payout router: any address may be paid, without KYC, so
/// the per-payee, per-epoch cap is what keeps payouts small.
contract PayoutRouterV0 is PayoutRouterBase {
    /// @param token_ The token paid out.
    /// @param admin Holder of DEFAULT_ADMIN_ROLE.
    /// @param payer Initial holder of PAYER_ROLE.
    /// @param epochLength_ Cap epoch length in seconds.
    /// @param capPerEpoch_ Per-payee, per-epoch cap.
    constructor(IERC20 token_, address admin, address payer, uint64 epochLength_, uint256 capPerEpoch_)
        PayoutRouterBase(token_, admin, payer, epochLength_, capPerEpoch_)
    {}

    /// @dev Every (non-zero) payee is allowed.
    function _checkPayee(address) internal pure override {}
}
