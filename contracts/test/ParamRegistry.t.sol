// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ParamRegistry} from "../src/ParamRegistry.sol";
import {Test} from "./utils/Test.sol";

contract ParamRegistryTest is Test {
    event ParamSet(bytes32 indexed key, uint256 oldValue, uint256 newValue);

    ParamRegistry internal registry;
    address internal owner;
    bytes32 internal constant EPOCH = "payout.epoch_seconds";
    bytes32 internal constant NOPE = "nope";
    bytes32 internal constant K = "k";

    function setUp() public {
        owner = makeAddr("timelock");
        registry = new ParamRegistry(owner);
        vm.prank(owner);
        registry.defineParam(EPOCH, 3600, 30 days, 1 days);
    }

    function test_define_thenGet() public view {
        vm.assertEq(registry.get(EPOCH), 1 days, "value");
        ParamRegistry.Param memory p = registry.param(EPOCH);
        vm.assertEq(p.min, 3600, "min");
        vm.assertEq(p.max, 30 days, "max");
        vm.assertTrue(p.defined, "defined");
    }

    function test_set_logsOldAndNew() public {
        vm.expectEmit(address(registry));
        emit ParamSet(EPOCH, 1 days, 2 days);
        vm.prank(owner);
        registry.set(EPOCH, 2 days);
        vm.assertEq(registry.get(EPOCH), 2 days, "value");
    }

    function test_get_revertsForUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(ParamRegistry.UnknownParam.selector, NOPE));
        registry.get(NOPE);
    }

    function test_set_revertsForUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(ParamRegistry.UnknownParam.selector, NOPE));
        vm.prank(owner);
        registry.set(NOPE, 1);
    }

    function test_define_revertsOnBadBounds() public {
        vm.expectRevert(abi.encodeWithSelector(ParamRegistry.BadBounds.selector, 2, 1));
        vm.prank(owner);
        registry.defineParam("x", 2, 1, 1);
    }

    function testFuzz_onlyOwner(address caller) public {
        vm.assume(caller != owner);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
        vm.prank(caller);
        registry.set(EPOCH, 2 days);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
        vm.prank(caller);
        registry.defineParam("x", 0, 1, 0);
    }

    function testFuzz_set_enforcesBounds(uint256 min, uint256 max, uint256 value) public {
        max = bound(max, 0, type(uint256).max);
        min = bound(min, 0, max);
        vm.prank(owner);
        registry.defineParam(K, min, max, min);
        bool inside = value >= min && value <= max;
        if (!inside) {
            vm.expectRevert(abi.encodeWithSelector(ParamRegistry.OutOfBounds.selector, K, value, min, max));
        }
        vm.prank(owner);
        registry.set(K, value);
        vm.assertEq(registry.get(K), inside ? value : min, "value");
    }

    function test_ownershipTransferIsTwoStep() public {
        address next = makeAddr("next");
        vm.prank(owner);
        registry.transferOwnership(next);
        vm.assertEq(registry.owner(), owner, "still owner until accepted");
        vm.prank(next);
        registry.acceptOwnership();
        vm.assertEq(registry.owner(), next, "new owner");
    }
}
