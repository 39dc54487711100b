"""Connect to a bus as a given user and report what its policy lets that user do.

Run by test_bus_policy.py as root: ``python bus_probe.py ADDRESS UID GID GROUPS ACTIONS``.
It imports dbus-fast first, then drops to UID, GID and the comma-separated GROUPS (the bus
judges the credentials the socket has at connect time), connects, runs the JSON list of
ACTIONS in order and prints one JSON line: per action "ok" (a method return, or the name
now owned) or the D-Bus error name it got. With ``--hold`` it then keeps the connection,
and so the names it owns, until its stdin closes; meanwhile dbus-fast answers calls to it
(Peer and Introspectable itself, UnknownMethod / UnknownObject for anything else).

Actions: {"op": "own", "name": ...} or {"op": "call", "destination": ..., "path": ...,
"interface": ... or null, "member": ..., "signature": ..., "body": [...]}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from dbus_fast import DBusError, Message, MessageType, RequestNameReply
from dbus_fast.aio import MessageBus


async def perform(bus: MessageBus, action: dict[str, Any]) -> str:
    if action["op"] == "own":
        try:
            reply = await bus.request_name(action["name"])
        except DBusError as err:
            return err.type
        return "ok" if reply is RequestNameReply.PRIMARY_OWNER else reply.name
    message = Message(
        destination=action["destination"],
        path=action["path"],
        interface=action["interface"],
        member=action["member"],
        signature=action.get("signature", ""),
        body=action.get("body", []),
    )
    answer = await bus.call(message)
    if answer is None:
        return "no reply"
    if answer.message_type is MessageType.ERROR:
        return answer.error_name or "error without a name"
    return "ok"


async def stdin_closed() -> None:
    # No executor thread: after the privilege drop, Python may not import what it lazily
    # would (the interpreter's own files can be unreadable for the new uid).
    loop = asyncio.get_running_loop()
    closed = loop.create_future()

    def readable() -> None:
        if not os.read(sys.stdin.fileno(), 4096) and not closed.done():
            closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), readable)
    try:
        await closed
    finally:
        loop.remove_reader(sys.stdin.fileno())


async def probe(address: str, actions: list[dict[str, Any]], hold: bool) -> None:
    bus = await MessageBus(bus_address=address).connect()
    try:
        outcomes = [await perform(bus, action) for action in actions]
        print(json.dumps(outcomes), flush=True)
        if hold:
            await stdin_closed()
    finally:
        bus.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address")
    parser.add_argument("uid", type=int)
    parser.add_argument("gid", type=int)
    parser.add_argument("groups", help="comma-separated supplementary gids, may be empty")
    parser.add_argument("actions", type=json.loads)
    parser.add_argument("--hold", action="store_true")
    args = parser.parse_args()
    os.setgroups([int(gid) for gid in args.groups.split(",") if gid])
    os.setresgid(args.gid, args.gid, args.gid)
    os.setresuid(args.uid, args.uid, args.uid)
    asyncio.run(probe(args.address, args.actions, args.hold))


if __name__ == "__main__":
    main()
