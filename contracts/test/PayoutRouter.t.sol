// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {PayoutRouterBase} from "../src/payout/PayoutRouterBase.sol";
import {PayoutRouterKYC} from "../src/payout/PayoutRouterKYC.sol";
import {PayoutRouterV0} from "../src/payout/PayoutRouterV0.sol";
import {MockERC20} from "./utils/MockERC20.sol";
import {Test} from "./utils/Test.sol";

contract PayoutRouterV0Test is Test {
    event Paid(bytes32 indexed ref, address indexed payee, uint256 amount, uint64 epoch);

    uint64 internal constant DAY = 1 days;
    uint256 internal constant CAP = 100e6;
    bytes32 internal constant REF_1 = "ref-1";

    MockERC20 internal usd;
    PayoutRouterV0 internal router;
    address internal admin;
    address internal payer;
    address internal host;

    function setUp() public {
        admin = makeAddr("admin");
        payer = makeAddr("payer");
        host = makeAddr("host");
        usd = new MockERC20();
        router = new PayoutRouterV0(usd, admin, payer, DAY, CAP);
        usd.mint(address(router), 1_000_000e6);
        vm.warp(100 * uint256(DAY) + 5);
    }

    function test_pay_transfersAndLogs() public {
        vm.expectEmit(address(router));
        emit Paid("ref-1", host, 40e6, 100);
        vm.prank(payer);
        router.pay("ref-1", host, 40e6);
        vm.assertEq(usd.balanceOf(host), 40e6, "paid");
        vm.assertEq(router.paidIn(100, host), 40e6, "ledger");
        vm.assertEq(router.remainingFor(host), 60e6, "remaining");
        vm.assertTrue(router.isPaid("ref-1"), "ref marked");
    }

    function test_payout_oncePerPayeePerEpoch() public {
        bytes32 ref = router.payoutRef(host, 100);
        vm.expectEmit(address(router));
        emit Paid(ref, host, 5e6, 100);
        vm.prank(payer);
        router.payout(host, 5e6);
        vm.assertEq(usd.balanceOf(host), 5e6, "paid");
        vm.assertTrue(router.isPaid(ref), "ref marked");
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouterBase.AlreadyPaid.selector, ref));
        router.payout(host, 5e6);
        vm.warp(101 * uint256(DAY));
        vm.prank(payer);
        router.payout(host, 5e6);
        vm.assertEq(usd.balanceOf(host), 10e6, "paid again next epoch");
    }

    function testFuzz_onlyPayerCallsPayout(address caller) public {
        vm.assume(caller != payer);
        bytes32 role = router.PAYER_ROLE();
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role));
        vm.prank(caller);
        router.payout(host, 1e6);
    }

    function test_pay_sameRefTwiceReverts() public {
        vm.startPrank(payer);
        router.pay("ref-1", host, 1e6);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouterBase.AlreadyPaid.selector, REF_1));
        router.pay("ref-1", host, 1e6);
        vm.stopPrank();
        vm.assertEq(usd.balanceOf(host), 1e6, "paid once");
    }

    function test_pay_capPerPayeePerEpoch() public {
        vm.startPrank(payer);
        router.pay("a", host, 70e6);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouterBase.CapExceeded.selector, host, 100, 31e6, 30e6));
        router.pay("b", host, 31e6);
        router.pay("b", host, 30e6);
        // another payee has its own cap
        router.pay("c", makeAddr("other host"), CAP);
        // the next epoch starts afresh
        vm.warp(block.timestamp + DAY);
        router.pay("d", host, CAP);
        vm.stopPrank();
        vm.assertEq(usd.balanceOf(host), 200e6, "two full epochs");
    }

    function test_pay_revertsOnZeroAmountOrPayee() public {
        vm.startPrank(payer);
        vm.expectRevert(PayoutRouterBase.ZeroAmount.selector);
        router.pay("a", host, 0);
        vm.expectRevert(PayoutRouterBase.ZeroPayee.selector);
        router.pay("a", address(0), 1);
        vm.stopPrank();
    }

    function test_pay_revertsWhenBalanceShort() public {
        PayoutRouterV0 empty = new PayoutRouterV0(usd, admin, payer, DAY, CAP);
        vm.expectRevert();
        vm.prank(payer);
        empty.pay("a", host, 1);
        vm.assertFalse(empty.isPaid("a"), "nothing recorded");
    }

    function test_constructor_revertsOnZeroEpoch() public {
        vm.expectRevert(PayoutRouterBase.ZeroEpochLength.selector);
        new PayoutRouterV0(usd, admin, payer, 0, CAP);
    }

    function testFuzz_onlyPayerPays(address caller) public {
        vm.assume(caller != payer);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, caller, router.PAYER_ROLE()
            )
        );
        vm.prank(caller);
        router.pay("a", host, 1);
    }

    function testFuzz_onlyAdminSetsCapAndWithdraws(address caller) public {
        vm.assume(caller != admin);
        bytes memory denied = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, caller, router.DEFAULT_ADMIN_ROLE()
        );
        vm.expectRevert(denied);
        vm.prank(caller);
        router.setCap(1);
        vm.expectRevert(denied);
        vm.prank(caller);
        router.withdraw(caller, 1);
    }

    function test_admin_setsCapAndWithdraws() public {
        vm.startPrank(admin);
        router.setCap(5);
        router.withdraw(admin, 7);
        vm.stopPrank();
        vm.assertEq(router.capPerEpoch(), 5, "cap");
        vm.assertEq(usd.balanceOf(admin), 7, "withdrawn");
        vm.expectRevert(abi.encodeWithSelector(PayoutRouterBase.CapExceeded.selector, host, 100, 6, 5));
        vm.prank(payer);
        router.pay("a", host, 6);
    }

    /// Whatever the sequence of payments, no payee gets more than the cap in an epoch.
    function testFuzz_neverExceedsCap(uint256[6] calldata amounts, uint8[6] calldata dayOffsets) public {
        uint256 start = block.timestamp;
        vm.startPrank(payer);
        for (uint256 i = 0; i < amounts.length; ++i) {
            vm.warp(start + uint256(dayOffsets[i] % 3) * DAY);
            uint256 amount = bound(amounts[i], 1, 2 * CAP);
            uint64 epoch = router.currentEpoch();
            uint256 before = router.paidIn(epoch, host);
            bytes32 ref = keccak256(abi.encode(i));
            if (before + amount > CAP) {
                vm.expectRevert(
                    abi.encodeWithSelector(
                        PayoutRouterBase.CapExceeded.selector, host, epoch, amount, CAP - before
                    )
                );
            }
            router.pay(ref, host, amount);
            vm.assertLe(router.paidIn(epoch, host), CAP, "within cap");
        }
        vm.stopPrank();
    }
}

contract PayoutRouterKYCTest is Test {
    MockERC20 internal usd;
    PayoutRouterKYC internal router;
    address internal admin;
    address internal payer;
    address internal kyc;
    address internal host;

    function setUp() public {
        admin = makeAddr("admin");
        payer = makeAddr("payer");
        kyc = makeAddr("kyc");
        host = makeAddr("host");
        usd = new MockERC20();
        router = new PayoutRouterKYC(usd, admin, payer, kyc, 1 days, 10_000e6);
        usd.mint(address(router), 1_000_000e6);
    }

    function test_pay_revertsForUnlistedPayee() public {
        vm.expectRevert(abi.encodeWithSelector(PayoutRouterKYC.PayeeNotAllowed.selector, host));
        vm.prank(payer);
        router.pay("a", host, 1);
    }

    function test_pay_allowedThenRevoked() public {
        vm.prank(kyc);
        router.setAllowed(host, true);
        vm.assertTrue(router.isAllowed(host), "allowed");
        vm.prank(payer);
        router.pay("a", host, 5_000e6);
        vm.assertEq(usd.balanceOf(host), 5_000e6, "paid");

        vm.prank(kyc);
        router.setAllowed(host, false);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouterKYC.PayeeNotAllowed.selector, host));
        vm.prank(payer);
        router.pay("b", host, 1);
    }

    function test_pay_stillCapped() public {
        vm.prank(kyc);
        router.setAllowed(host, true);
        vm.expectRevert(
            abi.encodeWithSelector(PayoutRouterBase.CapExceeded.selector, host, 0, 10_000e6 + 1, 10_000e6)
        );
        vm.prank(payer);
        router.pay("a", host, 10_000e6 + 1);
    }

    function test_setAllowed_revertsOnZero() public {
        vm.expectRevert(PayoutRouterBase.ZeroPayee.selector);
        vm.prank(kyc);
        router.setAllowed(address(0), true);
    }

    function testFuzz_onlyKycRoleLists(address caller) public {
        vm.assume(caller != kyc);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, router.KYC_ROLE())
        );
        vm.prank(caller);
        router.setAllowed(host, true);
    }
}
