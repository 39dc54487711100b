// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {LucidAnchors} from "../src/LucidAnchors.sol";
import {LucidChunkStore} from "../src/LucidChunkStore.sol";
import {Test} from "./utils/Test.sol";

contract LucidChunkStoreTest is Test {
    event Committed(
        bytes32 indexed root,
        address indexed device,
        uint64 retainUntil,
        uint16 cloudReplicas,
        uint16 peerReplicas,
        bytes32 locationsHash,
        bytes locations
    );

    LucidAnchors internal anchors;
    LucidChunkStore internal store;
    address internal device;
    address internal otherDevice;
    bytes32 internal constant ROOT = keccak256("session root");
    bytes internal constant LOCATIONS = '["s3://lucid/ab/cd","peer:12D3KooW"]';

    function setUp() public {
        anchors = new LucidAnchors();
        store = new LucidChunkStore(anchors);
        device = makeAddr("device");
        otherDevice = makeAddr("other device");
        vm.prank(device);
        anchors.registerDevice(keccak256("k1"), new bytes(64));
        vm.prank(otherDevice);
        anchors.registerDevice(keccak256("k2"), new bytes(64));
        vm.warp(1_700_000_000);
    }

    function test_devices_isTheRegistry() public view {
        vm.assertEq(address(store.devices()), address(anchors), "registry");
    }

    function test_commit_storesAndLogs() public {
        uint64 until = uint64(block.timestamp + 30 days);
        vm.expectEmit(address(store));
        emit Committed(ROOT, device, until, 1, 2, keccak256(LOCATIONS), LOCATIONS);
        vm.prank(device);
        store.commit(ROOT, until, 1, 2, LOCATIONS);

        LucidChunkStore.Commitment memory c = store.commitmentOf(ROOT);
        vm.assertEq(c.device, device, "device");
        vm.assertEq(c.retainUntil, until, "retainUntil");
        vm.assertEq(c.cloudReplicas, 1, "cloud");
        vm.assertEq(c.peerReplicas, 2, "peers");
        vm.assertEq(c.locationsHash, keccak256(LOCATIONS), "hash");
        vm.assertTrue(store.isRetained(ROOT), "retained now");
        vm.warp(until + 1);
        vm.assertFalse(store.isRetained(ROOT), "expired after retainUntil");
    }

    function test_isRetained_falseForUnknownRoot() public view {
        vm.assertFalse(store.isRetained(keccak256("unknown")), "unknown");
    }

    function test_commit_revertsForUnregistered() public {
        address stranger = makeAddr("stranger");
        vm.expectRevert(abi.encodeWithSelector(LucidChunkStore.NotRegistered.selector, stranger));
        vm.prank(stranger);
        store.commit(ROOT, uint64(block.timestamp + 1), 1, 0, "");
    }

    function test_commit_revertsOnRetentionNotInFuture() public {
        uint64 now_ = uint64(block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(LucidChunkStore.RetentionInPast.selector, now_));
        vm.prank(device);
        store.commit(ROOT, now_, 1, 0, "");
    }

    function test_commit_revertsWithoutReplicas() public {
        vm.expectRevert(LucidChunkStore.NoReplicas.selector);
        vm.prank(device);
        store.commit(ROOT, uint64(block.timestamp + 1), 0, 0, "");
    }

    function test_commit_revertsForAnotherDevicesRoot() public {
        vm.prank(device);
        store.commit(ROOT, uint64(block.timestamp + 1 days), 1, 0, "");
        vm.expectRevert(abi.encodeWithSelector(LucidChunkStore.NotCommitter.selector, ROOT, device));
        vm.prank(otherDevice);
        store.commit(ROOT, uint64(block.timestamp + 2 days), 1, 0, "");
    }

    function test_commit_updateChangesReplicasAndLocations() public {
        vm.prank(device);
        store.commit(ROOT, uint64(block.timestamp + 1 days), 1, 3, LOCATIONS);
        vm.prank(device);
        store.commit(ROOT, uint64(block.timestamp + 1 days), 2, 0, "s3://elsewhere");
        LucidChunkStore.Commitment memory c = store.commitmentOf(ROOT);
        vm.assertEq(c.cloudReplicas, 2, "cloud");
        vm.assertEq(c.peerReplicas, 0, "peers");
        vm.assertEq(c.locationsHash, keccak256("s3://elsewhere"), "hash");
    }

    function testFuzz_commit_retentionOnlyGrows(uint64 first, uint64 second) public {
        first = uint64(bound(first, block.timestamp + 1, type(uint64).max));
        second = uint64(bound(second, block.timestamp + 1, type(uint64).max));
        vm.prank(device);
        store.commit(ROOT, first, 1, 1, "");
        if (second < first) {
            vm.expectRevert(abi.encodeWithSelector(LucidChunkStore.RetentionShortened.selector, first, second));
        }
        vm.prank(device);
        store.commit(ROOT, second, 1, 1, "");
        uint64 kept = store.commitmentOf(ROOT).retainUntil;
        vm.assertEq(kept, second < first ? first : second, "retention is the max");
    }

    function testFuzz_commit_hashesLocations(bytes32 root, uint16 cloud, uint16 peers, bytes calldata locations)
        public
    {
        vm.assume(cloud != 0 || peers != 0);
        vm.prank(device);
        store.commit(root, uint64(block.timestamp + 1), cloud, peers, locations);
        vm.assertEq(store.commitmentOf(root).locationsHash, keccak256(locations), "hash");
    }
}
