// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title PayoutRouterBase
/// @notice Pays hosts from a token balance held by the router. Each payment carries a
/// reference (the payer's ledger id, e.g. a hash of host + credit epoch) that can be paid
/// only once, so a payer that crashes and retries never pays twice. The total paid to one
/// payee within one time epoch is capped, which bounds the damage of a stolen payer key.
/// @dev Roles: DEFAULT_ADMIN_ROLE (the timelock) sets the cap, grants roles and may
/// withdraw the balance; PAYER_ROLE (the operator's payout daemon) pays. Subclasses
/// decide who may be paid ({_checkPayee}).
abstract contract PayoutRouterBase is AccessControl {
    using SafeERC20 for IERC20;

    /// @notice May call {pay} and {payout}.
    bytes32 public constant PAYER_ROLE = keccak256("PAYER_ROLE");

    /// @notice The token paid out (e.g. a USD stablecoin).
    IERC20 public immutable token;
    /// @notice Length of a cap epoch in seconds; epoch n is [n * len, (n + 1) * len).
    uint64 public immutable epochLength;
    /// @notice Most a payee may receive within one epoch, in token units.
    uint256 public capPerEpoch;

    mapping(uint64 epoch => mapping(address payee => uint256 amount)) private _paidIn;
    mapping(bytes32 ref => bool) private _refPaid;

    /// @notice `amount` went to `payee` in cap epoch `epoch` for ledger entry `ref`.
    event Paid(bytes32 indexed ref, address indexed payee, uint256 amount, uint64 epoch);
    /// @notice The per-payee, per-epoch cap is now `cap`.
    event CapSet(uint256 cap);
    /// @notice The admin withdrew `amount` to `to`.
    event Withdrawn(address indexed to, uint256 amount);

    /// @notice `ref` was paid already.
    error AlreadyPaid(bytes32 ref);
    /// @notice Paying `requested` would take `payee` over the cap; `remaining` is left.
    error CapExceeded(address payee, uint64 epoch, uint256 requested, uint256 remaining);
    /// @notice Payments must move a positive amount.
    error ZeroAmount();
    /// @notice The zero address cannot be paid.
    error ZeroPayee();
    /// @notice An epoch must last at least one second.
    error ZeroEpochLength();

    /// @param token_ The token paid out.
    /// @param admin Holder of DEFAULT_ADMIN_ROLE.
    /// @param payer Initial holder of PAYER_ROLE.
    /// @param epochLength_ Cap epoch length in seconds (e.g. 86400 for a day).
    /// @param capPerEpoch_ Initial per-payee, per-epoch cap.
    constructor(IERC20 token_, address admin, address payer, uint64 epochLength_, uint256 capPerEpoch_) {
        if (epochLength_ == 0) revert ZeroEpochLength();
        token = token_;
        epochLength = epochLength_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAYER_ROLE, payer);
        capPerEpoch = capPerEpoch_;
        emit CapSet(capPerEpoch_);
    }

    /// @notice Pay `amount` to `payee` for ledger entry `ref`, once per `ref`, within the cap.
    function pay(bytes32 ref, address payee, uint256 amount) external onlyRole(PAYER_ROLE) {
        _pay(ref, payee, amount);
    }

    /// @notice Pay `payee` at most once per cap epoch: the reference is derived from the
    /// payee and the current epoch ({payoutRef}). This is the call Lucid's tron-node makes
    /// (walletd signs only `payout(address,uint256)` on the router); it keeps its own
    /// idempotent ledger, and this makes a replayed call within the epoch revert.
    function payout(address payee, uint256 amount) external onlyRole(PAYER_ROLE) {
        _pay(payoutRef(payee, currentEpoch()), payee, amount);
    }

    /// @notice The reference {payout} uses for `payee` in cap epoch `epoch`.
    function payoutRef(address payee, uint64 epoch) public pure returns (bytes32) {
        return keccak256(abi.encode(payee, epoch));
    }

    function _pay(bytes32 ref, address payee, uint256 amount) internal {
        if (payee == address(0)) revert ZeroPayee();
        if (amount == 0) revert ZeroAmount();
        if (_refPaid[ref]) revert AlreadyPaid(ref);
        _checkPayee(payee);
        uint64 epoch = currentEpoch();
        uint256 paid = _paidIn[epoch][payee];
        uint256 left = paid >= capPerEpoch ? 0 : capPerEpoch - paid;
        if (amount > left) revert CapExceeded(payee, epoch, amount, left);
        _refPaid[ref] = true;
        _paidIn[epoch][payee] = paid + amount;
        emit Paid(ref, payee, amount, epoch);
        token.safeTransfer(payee, amount);
    }

    /// @notice Set the per-payee, per-epoch cap.
    function setCap(uint256 cap) external onlyRole(DEFAULT_ADMIN_ROLE) {
        capPerEpoch = cap;
        emit CapSet(cap);
    }

    /// @notice Move `amount` of the router's balance to `to` (e.g. on migration).
    function withdraw(address to, uint256 amount) external onlyRole(DEFAULT_ADMIN_ROLE) {
        emit Withdrawn(to, amount);
        token.safeTransfer(to, amount);
    }

    /// @notice The cap epoch of the current block.
    function currentEpoch() public view returns (uint64) {
        return uint64(block.timestamp / epochLength);
    }

    /// @notice What `payee` received in cap epoch `epoch`.
    function paidIn(uint64 epoch, address payee) external view returns (uint256) {
        return _paidIn[epoch][payee];
    }

    /// @notice Whether ledger entry `ref` was paid.
    function isPaid(bytes32 ref) external view returns (bool) {
        return _refPaid[ref];
    }

    /// @notice What `payee` may still receive in the current epoch.
    function remainingFor(address payee) external view returns (uint256) {
        uint256 paid = _paidIn[currentEpoch()][payee];
        return paid >= capPerEpoch ? 0 : capPerEpoch - paid;
    }

    /// @dev Revert if `payee` may not be paid.
    function _checkPayee(address payee) internal view virtual;
}
