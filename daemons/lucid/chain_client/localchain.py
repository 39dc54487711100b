"""Find and run anvil (Foundry's development chain) on 127.0.0.1.

The binary comes from npm ``@foundry-rs/anvil-linux-amd64`` (contracts/package.json; run
``cd contracts && npm ci``). Lookup order: ``$LUCID_ANVIL``, then ``anvil`` on ``PATH``,
then ``contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil`` in the source tree.
Used by chain-client for ledger "local" without an ``rpc_url`` (``lucid up`` / ``lucid demo``)
and by the tests. It never listens on anything but loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from lucid.chain_client.errors import ChainError
from lucid.runtime.errors import ERROR_PREFIX
from lucid.runtime.supervisor import detach_child

ANVIL_PACKAGE = "@foundry-rs/anvil-linux-amd64"
DEV_CHAIN_ID = 31337
START_TIMEOUT_S = 20.0


class LocalChainError(ChainError):
    """anvil is not installed or did not start."""

    name = ERROR_PREFIX + "NoLocalChain"
    retry = "nothing is anchored until anvil is installed (npm ci in contracts/) or rpc_url is set"
    slow = True


def find_anvil() -> Path:
    """The anvil binary.

    Raises:
        LocalChainError: none found (the message says how to install it).
    """
    env = os.environ.get("LUCID_ANVIL")
    if env:
        return Path(env)
    found = shutil.which("anvil")
    if found:
        return Path(found)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "contracts" / "node_modules" / ANVIL_PACKAGE / "bin" / "anvil"
        if candidate.is_file():
            return candidate
    raise LocalChainError(
        f"anvil not found: run `npm ci` in contracts/ (npm {ANVIL_PACKAGE}) or set LUCID_ANVIL"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalChain:
    proc: asyncio.subprocess.Process
    port: int
    chain_id: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """SIGTERM (anvil writes its --state file then), SIGKILL after 10 s."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()


async def _answers(port: int, chain_id: int) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
    ).encode()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(request)
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 5)
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return hex(chain_id).encode() in reply


async def start_anvil(
    *,
    port: int = 0,
    chain_id: int = DEV_CHAIN_ID,
    block_time_s: float | None = None,
    state_file: Path | None = None,
    log_file: Path | None = None,
    extra_args: tuple[str, ...] = (),
) -> LocalChain:
    """Start anvil on 127.0.0.1 and wait until it answers JSON-RPC.

    Args:
        port: TCP port; 0 picks a free one.
        chain_id: The chain id it reports.
        block_time_s: Mine a block this often (None: only when a transaction arrives).
        state_file: Load the chain from and save it to this file (kept across restarts).
        log_file: anvil's output (default: discarded).
        extra_args: More anvil options.
    Raises:
        LocalChainError: anvil is missing or did not answer in time.
    """
    binary = find_anvil()
    port = port or free_port()
    argv = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)]
    if block_time_s:
        argv += ["--block-time", f"{block_time_s:g}"]
    if state_file is not None:
        argv += ["--state", str(state_file), "--state-interval", "1"]
    argv += list(extra_args)
    out = open(log_file, "ab") if log_file else None  # noqa: SIM115  # handed to the child
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out or asyncio.subprocess.DEVNULL,
            stderr=out or asyncio.subprocess.DEVNULL,
            preexec_fn=detach_child,  # own session; SIGTERM when its parent dies
        )
    except OSError as err:
        raise LocalChainError(f"cannot run {binary}: {err}") from err
    finally:
        if out is not None:
            out.close()
    chain = LocalChain(proc=proc, port=port, chain_id=chain_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while not await _answers(port, chain_id):
        if proc.returncode is not None or loop.time() > deadline:
            await chain.stop()
            raise LocalChainError(
                f"anvil did not start on 127.0.0.1:{port} (status {proc.returncode})"
            )
        await asyncio.sleep(0.05)
    return chain
