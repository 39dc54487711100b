// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {LucidAnchors} from "../src/LucidAnchors.sol";
import {Test} from "./utils/Test.sol";

contract LucidAnchorsTest is Test {
    event DeviceRegistered(address indexed device, bytes32 identityKey, bytes binding);
    event Anchored(address indexed device, bytes32 indexed root, uint32 count, bytes meta);

    /// @dev The gas goal of the issue: ≤ 1,000 gas per session at 100 sessions a batch,
    /// i.e. the whole anchor transaction (21,000 base included) ≤ 100,000 gas.
    uint32 internal constant SESSIONS_PER_BATCH = 100;
    uint256 internal constant GAS_PER_SESSION_GOAL = 1_000;

    LucidAnchors internal anchors;
    address internal device;
    bytes32 internal constant KEY = keccak256("identity key");

    function setUp() public {
        anchors = new LucidAnchors();
        device = makeAddr("device");
        vm.prank(device);
        anchors.registerDevice(KEY, _binding(1));
    }

    function _binding(uint8 fill) internal pure returns (bytes memory b) {
        b = new bytes(64);
        for (uint256 i = 0; i < 64; ++i) {
            b[i] = bytes1(fill);
        }
    }

    // ---- registration ----

    function test_registerDevice_storesKeyAndLogsBinding() public {
        address other = makeAddr("other");
        bytes memory binding = _binding(7);
        vm.expectEmit(address(anchors));
        emit DeviceRegistered(other, bytes32(uint256(5)), binding);
        vm.prank(other);
        anchors.registerDevice(bytes32(uint256(5)), binding);
        vm.assertEq(anchors.identityOf(other), bytes32(uint256(5)), "identity stored");
    }

    function test_registerDevice_again_rotatesKey() public {
        bytes32 next = keccak256("next key");
        vm.prank(device);
        anchors.registerDevice(next, _binding(2));
        vm.assertEq(anchors.identityOf(device), next, "rotated key");
    }

    function test_registerDevice_revertsOnZeroKey() public {
        vm.expectRevert(LucidAnchors.ZeroIdentityKey.selector);
        anchors.registerDevice(bytes32(0), _binding(1));
    }

    function testFuzz_registerDevice_revertsUnless64ByteBinding(bytes calldata binding) public {
        vm.assume(binding.length != 64);
        vm.expectRevert(abi.encodeWithSelector(LucidAnchors.BadBindingLength.selector, binding.length));
        anchors.registerDevice(KEY, binding);
    }

    function test_identityOf_unregisteredIsZero() public view {
        vm.assertEq(anchors.identityOf(address(0xBEEF)), bytes32(0), "unregistered");
    }

    // ---- binding message ----

    function test_bindingMessage_isPrefixPlusLowercaseHex() public view {
        bytes memory expected = "lucid.bind.v1\x00evm:00000000000000000000000000000000000000ab";
        vm.assertEq(anchors.bindingMessage(address(0xAB)), expected, "small address");
        expected = "lucid.bind.v1\x00evm:7109709ecfa91a80626ff3989d68f67f5b1dd12d";
        vm.assertEq(
            anchors.bindingMessage(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D), expected, "checksummed address"
        );
    }

    function testFuzz_bindingMessage_roundTrips(address who) public view {
        bytes memory message = anchors.bindingMessage(who);
        vm.assertEq(message.length, 18 + 40, "length");
        uint160 parsed;
        for (uint256 i = 18; i < message.length; ++i) {
            uint8 c = uint8(message[i]);
            bool digit = c >= 0x30 && c <= 0x39;
            bool lower = c >= 0x61 && c <= 0x66;
            vm.assertTrue(digit || lower, "lowercase hex only");
            parsed = (parsed << 4) | uint160(digit ? c - 0x30 : c - 0x61 + 10);
        }
        vm.assertEq(address(parsed), who, "hex decodes to the address");
    }

    // ---- anchoring ----

    function test_anchor_emitsAndRecordsFirstAnchor() public {
        bytes32 root = keccak256("batch 1");
        vm.roll(1234);
        vm.expectEmit(address(anchors));
        emit Anchored(device, root, 100, hex"01");
        vm.prank(device);
        anchors.anchor(root, 100, hex"01");
        (address by, uint64 blockNumber) = anchors.anchorOf(root);
        vm.assertEq(by, device, "device");
        vm.assertEq(blockNumber, 1234, "block");
    }

    function test_anchor_againKeepsFirstButStillLogs() public {
        bytes32 root = keccak256("batch 1");
        vm.roll(10);
        vm.prank(device);
        anchors.anchor(root, 3, "");

        address second = makeAddr("second");
        vm.prank(second);
        anchors.registerDevice(KEY, _binding(3));
        vm.roll(20);
        vm.expectEmit(address(anchors));
        emit Anchored(second, root, 3, "");
        vm.prank(second);
        anchors.anchor(root, 3, "");

        (address by, uint64 blockNumber) = anchors.anchorOf(root);
        vm.assertEq(by, device, "first device kept");
        vm.assertEq(blockNumber, 10, "first block kept");
    }

    function test_anchorOf_unknownRootIsZero() public view {
        (address by, uint64 blockNumber) = anchors.anchorOf(keccak256("never"));
        vm.assertEq(by, address(0), "device");
        vm.assertEq(blockNumber, 0, "block");
    }

    function test_anchor_revertsOnEmptyBatch() public {
        vm.prank(device);
        vm.expectRevert(LucidAnchors.EmptyBatch.selector);
        anchors.anchor(keccak256("r"), 0, "");
    }

    function testFuzz_anchor_revertsForUnregistered(address caller, bytes32 root, uint32 count) public {
        vm.assume(caller != device);
        vm.expectRevert(abi.encodeWithSelector(LucidAnchors.NotRegistered.selector, caller));
        vm.prank(caller);
        anchors.anchor(root, count, "");
    }

    function testFuzz_anchor_byRegistered(bytes32 root, uint32 count, bytes calldata meta, uint64 height) public {
        count = uint32(bound(count, 1, type(uint32).max));
        height = uint64(bound(height, 1, type(uint64).max));
        vm.roll(height);
        vm.expectEmit(address(anchors));
        emit Anchored(device, root, count, meta);
        vm.prank(device);
        anchors.anchor(root, count, meta);
        (address by, uint64 blockNumber) = anchors.anchorOf(root);
        vm.assertEq(by, device, "device");
        vm.assertEq(blockNumber, height, "block");
    }

    // ---- gas ----

    /// @dev Whole-transaction gas of one anchor of a 100-session batch with `metaLength`
    /// bytes of metadata: execution measured here (storage made cold first, the call
    /// overhead of this test contract included, so it over-counts), plus the intrinsic
    /// cost computed from the calldata, under Prague's EIP-7623 calldata floor.
    function _anchorTxGas(uint256 metaLength, bytes32 root) internal returns (uint256) {
        bytes memory meta = new bytes(metaLength);
        for (uint256 i = 0; i < metaLength; ++i) {
            meta[i] = 0xa5;
        }
        bytes memory data = abi.encodeCall(LucidAnchors.anchor, (root, SESSIONS_PER_BATCH, meta));
        uint256 zeros;
        for (uint256 i = 0; i < data.length; ++i) {
            if (data[i] == 0) ++zeros;
        }
        uint256 tokens = zeros + 4 * (data.length - zeros);

        vm.cool(address(anchors));
        vm.prank(device);
        uint256 before = gasleft();
        (bool ok,) = address(anchors).call(data);
        uint256 execution = before - gasleft();
        vm.assertTrue(ok, "anchor succeeded");

        uint256 standard = 21_000 + 4 * tokens + execution;
        uint256 floor = 21_000 + 10 * tokens;
        return standard > floor ? standard : floor;
    }

    function test_gas_anchorOf100Sessions_withinGoal() public {
        uint256[4] memory metaLengths = [uint256(0), 32, 64, 128];
        for (uint256 i = 0; i < metaLengths.length; ++i) {
            uint256 total = _anchorTxGas(metaLengths[i], keccak256(abi.encode("gas", i)));
            emit log_named_uint(string.concat("anchor tx gas, meta bytes = ", _itoa(metaLengths[i])), total);
            vm.assertLe(total, SESSIONS_PER_BATCH * GAS_PER_SESSION_GOAL, "anchor tx over the gas goal");
        }
    }

    function _itoa(uint256 v) internal pure returns (string memory) {
        if (v == 0) return "0";
        bytes memory s;
        while (v > 0) {
            s = bytes.concat(bytes1(uint8(48 + (v % 10))), s);
            v /= 10;
        }
        return string(s);
    }
}
