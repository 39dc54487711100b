// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.27;

import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {LucidToken} from "../src/LucidToken.sol";
import {Test} from "./utils/Test.sol";

contract LucidTokenTest is Test {
    uint256 internal constant SUPPLY = 1_000_000e18;
    uint256 internal constant ALICE_KEY = 0xA11CE;

    LucidToken internal token;
    address internal alice;
    address internal bob;

    function setUp() public {
        alice = vm.addr(ALICE_KEY);
        bob = makeAddr("bob");
        token = new LucidToken(alice, SUPPLY);
        vm.warp(1_700_000_000);
    }

    function test_metadataAndSupply() public view {
        vm.assertEq(token.totalSupply(), SUPPLY, "supply");
        vm.assertEq(token.balanceOf(alice), SUPPLY, "all to recipient");
        vm.assertEq(keccak256(bytes(token.symbol())), keccak256("LUCID"), "symbol");
        vm.assertEq(token.decimals(), 18, "decimals");
    }

    function test_clockIsTimestamp() public view {
        vm.assertEq(token.clock(), block.timestamp, "clock");
        vm.assertEq(keccak256(bytes(token.CLOCK_MODE())), keccak256("mode=timestamp"), "mode");
    }

    function test_votesNeedDelegation() public {
        vm.assertEq(token.getVotes(alice), 0, "no votes before delegating");
        vm.prank(alice);
        token.delegate(alice);
        vm.assertEq(token.getVotes(alice), SUPPLY, "self-delegated");
    }

    function testFuzz_votesFollowTransfers(uint256 amount) public {
        amount = bound(amount, 0, SUPPLY);
        vm.prank(alice);
        token.delegate(alice);
        vm.prank(bob);
        token.delegate(bob);
        uint256 t0 = block.timestamp;
        vm.warp(t0 + 1);
        vm.prank(alice);
        vm.assertTrue(token.transfer(bob, amount), "transfer");
        vm.assertEq(token.getVotes(alice), SUPPLY - amount, "alice votes");
        vm.assertEq(token.getVotes(bob), amount, "bob votes");
        vm.warp(t0 + 2);
        vm.assertEq(token.getPastVotes(alice, t0), SUPPLY, "checkpoint before transfer");
        vm.assertEq(token.getPastTotalSupply(t0 + 1), SUPPLY, "past supply");
    }

    function _permitDigest(address owner, address spender, uint256 value, uint256 nonce, uint256 deadline)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                spender,
                value,
                nonce,
                deadline
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
    }

    function test_permit_setsAllowance() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ALICE_KEY, _permitDigest(alice, bob, 5e18, 0, deadline));
        token.permit(alice, bob, 5e18, deadline, v, r, s);
        vm.assertEq(token.allowance(alice, bob), 5e18, "allowance");
        vm.assertEq(token.nonces(alice), 1, "nonce used");
    }

    function test_permit_revertsWhenExpired() public {
        uint256 deadline = block.timestamp - 1;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ALICE_KEY, _permitDigest(alice, bob, 5e18, 0, deadline));
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        token.permit(alice, bob, 5e18, deadline, v, r, s);
    }

    function testFuzz_permit_revertsForWrongSigner(uint256 key) public {
        key = bound(key, 1, 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140);
        vm.assume(key != ALICE_KEY);
        uint256 deadline = block.timestamp + 1;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _permitDigest(alice, bob, 1, 0, deadline));
        vm.expectRevert(
            abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, vm.addr(key), alice)
        );
        token.permit(alice, bob, 1, deadline, v, r, s);
    }
}
