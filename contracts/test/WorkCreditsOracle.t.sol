// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {WorkCreditsOracle} from "../src/WorkCreditsOracle.sol";
import {Test} from "./utils/Test.sol";

contract WorkCreditsOracleTest is Test {
    event CreditsPosted(uint64 indexed epoch, address indexed host, uint256 credits);
    event EpochFinalized(uint64 indexed epoch, uint256 total);

    WorkCreditsOracle internal oracleContract;
    address internal admin;
    address internal oracle;
    address internal hostA;
    address internal hostB;

    function setUp() public {
        admin = makeAddr("admin");
        oracle = makeAddr("oracle");
        hostA = makeAddr("host a");
        hostB = makeAddr("host b");
        oracleContract = new WorkCreditsOracle(admin, oracle);
    }

    function _pair(address a, address b) internal pure returns (address[] memory hosts) {
        hosts = new address[](2);
        (hosts[0], hosts[1]) = (a, b);
    }

    function _amounts(uint256 a, uint256 b) internal pure returns (uint256[] memory amounts) {
        amounts = new uint256[](2);
        (amounts[0], amounts[1]) = (a, b);
    }

    function test_post_setsCreditsAndTotal() public {
        vm.expectEmit(address(oracleContract));
        emit CreditsPosted(7, hostA, 10);
        vm.prank(oracle);
        oracleContract.post(7, _pair(hostA, hostB), _amounts(10, 5));
        vm.assertEq(oracleContract.creditsOf(7, hostA), 10, "a");
        vm.assertEq(oracleContract.creditsOf(7, hostB), 5, "b");
        vm.assertEq(oracleContract.totalCredits(7), 15, "total");
        vm.assertEq(oracleContract.totalCredits(8), 0, "other epoch untouched");
    }

    function test_post_correctionReplacesValue() public {
        vm.startPrank(oracle);
        oracleContract.post(1, _pair(hostA, hostB), _amounts(10, 5));
        oracleContract.post(1, _pair(hostA, hostA), _amounts(3, 4));
        vm.stopPrank();
        vm.assertEq(oracleContract.creditsOf(1, hostA), 4, "last value wins");
        vm.assertEq(oracleContract.totalCredits(1), 9, "total follows corrections");
    }

    function test_finalize_freezesEpoch() public {
        vm.startPrank(oracle);
        oracleContract.post(1, _pair(hostA, hostB), _amounts(1, 2));
        vm.expectEmit(address(oracleContract));
        emit EpochFinalized(1, 3);
        oracleContract.finalize(1);
        vm.assertTrue(oracleContract.isFinal(1), "final");
        vm.expectRevert(abi.encodeWithSelector(WorkCreditsOracle.EpochIsFinal.selector, 1));
        oracleContract.post(1, _pair(hostA, hostB), _amounts(9, 9));
        vm.expectRevert(abi.encodeWithSelector(WorkCreditsOracle.EpochIsFinal.selector, 1));
        oracleContract.finalize(1);
        vm.stopPrank();
        vm.assertEq(oracleContract.creditsOf(1, hostA), 1, "unchanged");
    }

    function test_post_revertsOnLengthMismatch() public {
        vm.expectRevert(abi.encodeWithSelector(WorkCreditsOracle.LengthMismatch.selector, 2, 1));
        vm.prank(oracle);
        oracleContract.post(1, _pair(hostA, hostB), new uint256[](1));
    }

    function test_post_revertsOnZeroHost() public {
        vm.expectRevert(WorkCreditsOracle.ZeroHost.selector);
        vm.prank(oracle);
        oracleContract.post(1, _pair(hostA, address(0)), _amounts(1, 1));
    }

    function testFuzz_onlyOracle(address caller) public {
        vm.assume(caller != oracle);
        bytes32 role = oracleContract.ORACLE_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role)
        );
        vm.prank(caller);
        oracleContract.post(1, _pair(hostA, hostB), _amounts(1, 1));
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role)
        );
        vm.prank(caller);
        oracleContract.finalize(1);
    }

    function test_adminRotatesOracle() public {
        address next = makeAddr("next oracle");
        bytes32 role = oracleContract.ORACLE_ROLE();
        vm.startPrank(admin);
        oracleContract.grantRole(role, next);
        oracleContract.revokeRole(role, oracle);
        vm.stopPrank();
        vm.prank(next);
        oracleContract.post(1, _pair(hostA, hostB), _amounts(1, 1));
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, oracle, role)
        );
        vm.prank(oracle);
        oracleContract.post(1, _pair(hostA, hostB), _amounts(1, 1));
    }

    /// Total always equals the sum of the hosts' current credits, whatever the corrections.
    function testFuzz_totalIsSumOfCredits(uint8[8] calldata who, uint64[8] calldata amounts) public {
        address[4] memory pool = [hostA, hostB, makeAddr("c"), makeAddr("d")];
        vm.startPrank(oracle);
        for (uint256 i = 0; i < who.length; ++i) {
            address[] memory hosts = new address[](1);
            uint256[] memory credits = new uint256[](1);
            hosts[0] = pool[who[i] % 4];
            credits[0] = amounts[i];
            oracleContract.post(3, hosts, credits);
        }
        vm.stopPrank();
        uint256 sum;
        for (uint256 i = 0; i < pool.length; ++i) {
            sum += oracleContract.creditsOf(3, pool[i]);
        }
        vm.assertEq(oracleContract.totalCredits(3), sum, "total == sum");
    }
}
