// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {LucidGovernor} from "../src/LucidGovernor.sol";
import {LucidToken} from "../src/LucidToken.sol";
import {ParamRegistry} from "../src/ParamRegistry.sol";
import {Test} from "./utils/Test.sol";

/// The whole governance path: LUCID holders vote, the timelock executes, the timelock
/// owns ParamRegistry.
contract LucidGovernorTest is Test {
    uint256 internal constant SUPPLY = 1_000_000e18;
    uint48 internal constant VOTING_DELAY = 1 days;
    uint32 internal constant VOTING_PERIOD = 1 weeks;
    uint256 internal constant TIMELOCK_DELAY = 2 days;
    bytes32 internal constant KEY = "payout.cap_usd";

    LucidToken internal token;
    TimelockController internal timelock;
    LucidGovernor internal governor;
    ParamRegistry internal registry;
    address internal alice;
    address internal bob;

    function setUp() public {
        vm.warp(1_700_000_000);
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        token = new LucidToken(alice, SUPPLY);
        vm.prank(alice);
        vm.assertTrue(token.transfer(bob, 10_000e18), "transfer"); // 1 %: below the 4 % quorum
        vm.prank(alice);
        token.delegate(alice);
        vm.prank(bob);
        token.delegate(bob);

        timelock = new TimelockController(TIMELOCK_DELAY, new address[](0), new address[](0), address(this));
        governor = new LucidGovernor(token, timelock, VOTING_DELAY, VOTING_PERIOD, 1_000e18, 4);
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));
        timelock.grantRole(timelock.EXECUTOR_ROLE(), address(0)); // anyone executes once ready
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), address(this));

        registry = new ParamRegistry(address(timelock));
        vm.warp(block.timestamp + 1);
    }

    function _proposal(uint256 value)
        internal
        view
        returns (address[] memory targets, uint256[] memory values, bytes[] memory calldatas)
    {
        targets = new address[](1);
        values = new uint256[](1);
        calldatas = new bytes[](1);
        targets[0] = address(registry);
        calldatas[0] = abi.encodeCall(ParamRegistry.defineParam, (KEY, 0, 1_000e6, value));
    }

    function test_settings() public view {
        vm.assertEq(governor.votingDelay(), VOTING_DELAY, "delay");
        vm.assertEq(governor.votingPeriod(), VOTING_PERIOD, "period");
        vm.assertEq(governor.proposalThreshold(), 1_000e18, "threshold");
        vm.assertEq(governor.quorum(block.timestamp - 1), SUPPLY * 4 / 100, "quorum");
        vm.assertEq(governor.timelock(), address(timelock), "timelock");
    }

    function test_proposal_passesQueuesAndExecutes() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = _proposal(250e6);
        string memory description = "Set the payout cap to 250 USD";
        bytes32 descriptionHash = keccak256(bytes(description));

        vm.prank(alice);
        uint256 id = governor.propose(targets, values, calldatas, description);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Pending), "pending");

        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(alice);
        governor.castVote(id, 1); // for
        vm.prank(bob);
        governor.castVote(id, 0); // against

        vm.warp(block.timestamp + VOTING_PERIOD);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Succeeded), "succeeded");

        governor.queue(targets, values, calldatas, descriptionHash);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Queued), "queued");

        vm.expectRevert(); // the timelock delay has not passed
        governor.execute(targets, values, calldatas, descriptionHash);

        vm.warp(block.timestamp + TIMELOCK_DELAY);
        governor.execute(targets, values, calldatas, descriptionHash);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Executed), "executed");
        vm.assertEq(registry.get(KEY), 250e6, "parameter set by governance");
    }

    function test_proposal_withoutQuorumIsDefeated() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = _proposal(1);
        vm.prank(bob);
        uint256 id = governor.propose(targets, values, calldatas, "bob alone");
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(bob);
        governor.castVote(id, 1);
        vm.warp(block.timestamp + VOTING_PERIOD);
        vm.assertEq(uint256(governor.state(id)), uint256(IGovernor.ProposalState.Defeated), "defeated");
        vm.expectRevert();
        governor.queue(targets, values, calldatas, keccak256("bob alone"));
    }

    function test_propose_revertsBelowThreshold() public {
        address carol = makeAddr("carol");
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = _proposal(1);
        vm.expectRevert(
            abi.encodeWithSelector(IGovernor.GovernorInsufficientProposerVotes.selector, carol, 0, 1_000e18)
        );
        vm.prank(carol);
        governor.propose(targets, values, calldatas, "carol");
    }

    function test_votesAfterSnapshotDoNotCount() public {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = _proposal(1);
        vm.prank(bob);
        uint256 id = governor.propose(targets, values, calldatas, "late tokens");
        // once voting is open, alice hands bob enough for quorum: the snapshot ignores it
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(alice);
        vm.assertTrue(token.transfer(bob, 500_000e18), "transfer");
        vm.assertEq(governor.proposalSnapshot(id) < block.timestamp, true, "transfer after snapshot");
        vm.prank(bob);
        governor.castVote(id, 1);
        (, uint256 forVotes,) = governor.proposalVotes(id);
        vm.assertEq(forVotes, 10_000e18, "weight at snapshot");
    }

    function testFuzz_registryRejectsAnyoneButTimelock(address caller) public {
        vm.assume(caller != address(timelock));
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
        vm.prank(caller);
        registry.defineParam(KEY, 0, 1, 1);
    }
}
