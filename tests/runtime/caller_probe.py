"""Call Lucid methods as another unix user, optionally owning a bus name first.

Run as root by test_callers.py: ``python caller_probe.py ADDRESS UID CALLS [--own NAME]``.
It imports what it needs, drops to UID (gid the same, no supplementary groups: the bus
judges the socket's credentials at connect time), connects, asks for NAME if given, then
makes each call of the JSON list CALLS ({"destination", "path", "interface", "member",
"signature"}) with placeholder arguments of the right types (a real file descriptor for
``h``) and prints one JSON object: {"own": outcome or null, "calls": [outcome ...]}, where an
outcome is "ok" (a method return; for "own", the name now owned), the D-Bus error name, or
"connect: <error>" when the bus refused the connection itself.

With ``--listen MEMBER`` it instead subscribes to every signal, prints ``ready``, and prints
the JSON list of signals it received ("interface.member") once a signal named MEMBER came.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

from dbus_fast import DBusError, Message, MessageType, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.signature import SignatureTree, SignatureType


def placeholder(t: SignatureType, fds: list[int]) -> Any:
    """A value of D-Bus type ``t`` (fds collects the descriptors ``h`` values refer to)."""
    code = t.token
    if code == "s" or code == "o":
        return "x" if code == "s" else "/x"
    if code == "g":
        return ""
    if code == "b":
        return False
    if code in "ynqiuxtd":
        return 0
    if code == "h":
        fds.append(os.open("/dev/null", os.O_RDWR))
        return len(fds) - 1
    if code == "v":
        return Variant("s", "x")
    if code == "a":
        return {} if t.children[0].token == "{" else ([] if t.children[0].token != "y" else b"")
    if code == "(":
        return [placeholder(c, fds) for c in t.children]
    raise ValueError(f"no placeholder for type {t.signature}")


async def call(bus: MessageBus, spec: dict[str, str]) -> str:
    fds: list[int] = []
    body = [placeholder(t, fds) for t in SignatureTree(spec["signature"]).types]
    message = Message(
        destination=spec["destination"],
        path=spec["path"],
        interface=spec["interface"],
        member=spec["member"],
        signature=spec["signature"],
        body=body,
        unix_fds=fds,
    )
    try:
        answer = await asyncio.wait_for(bus.call(message), 30)
    finally:
        for fd in fds:
            os.close(fd)
    if answer is None:
        return "no reply"
    if answer.message_type is MessageType.ERROR:
        return answer.error_name or "error without a name"
    return "ok"


async def probe(address: str, calls: list[dict[str, str]], own: str | None) -> None:
    try:
        bus = await MessageBus(bus_address=address, negotiate_unix_fd=True).connect()
    except Exception as err:  # the bus refused us: that is the outcome to report
        print(json.dumps({"own": None, "calls": [f"connect: {err}"] * len(calls)}), flush=True)
        return
    try:
        owned = None
        if own:
            try:
                reply = await bus.request_name(own)
                owned = "ok" if reply is RequestNameReply.PRIMARY_OWNER else reply.name
            except DBusError as err:
                owned = err.type
        outcomes = [await call(bus, spec) for spec in calls]
        print(json.dumps({"own": owned, "calls": outcomes}), flush=True)
    finally:
        bus.disconnect()


async def listen(address: str, marker: str) -> None:
    bus = await MessageBus(bus_address=address).connect()
    got: list[str] = []
    done = asyncio.get_running_loop().create_future()

    def handler(msg: Message) -> bool:
        if msg.message_type is MessageType.SIGNAL and msg.interface != "org.freedesktop.DBus":
            got.append(f"{msg.interface}.{msg.member}")
            if msg.member == marker and not done.done():
                done.set_result(None)
        return False

    bus.add_message_handler(handler)
    add = Message(
        destination="org.freedesktop.DBus",
        path="/org/freedesktop/DBus",
        interface="org.freedesktop.DBus",
        member="AddMatch",
        signature="s",
        body=["type='signal'"],
    )
    await bus.call(add)
    print("ready", flush=True)
    try:
        await asyncio.wait_for(done, 60)
    finally:
        print(json.dumps(got), flush=True)
        bus.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address")
    parser.add_argument("uid", type=int)
    parser.add_argument("calls", type=json.loads)
    parser.add_argument("--own")
    parser.add_argument("--listen", metavar="MEMBER")
    args = parser.parse_args()
    os.setgroups([])
    os.setresgid(args.uid, args.uid, args.uid)
    os.setresuid(args.uid, args.uid, args.uid)
    if args.listen:
        asyncio.run(listen(args.address, args.listen))
    else:
        asyncio.run(probe(args.address, args.calls, args.own))


if __name__ == "__main__":
    main()
