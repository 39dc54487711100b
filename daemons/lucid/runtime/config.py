"""Typed, frozen configuration loaded from one TOML file with per-daemon sections.

Sources, later ones win: the dataclass defaults (embedded defaults, fit for a Pi 5),
the TOML file (``/etc/lucid/lucid.toml`` on the device, ``LUCID_CONFIG`` to point
elsewhere), then environment overrides ``LUCID__<SECTION>__<KEY>=value`` (tests use these).
Unknown sections or keys and wrong types are a ``ConfigError`` naming the key; a typo
never silently falls back to a default. This module does not create directories.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lucid.runtime.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/lucid/lucid.toml")
ENV_PREFIX = "LUCID__"


@dataclass(frozen=True)
class PathsConfig:
    state_dir: Path = Path("/var/lib/lucid")  # persistent: per-daemon dirs + chunk store
    spool_dir: Path = Path("/run/lucid/spool")  # RAM (tmpfs): plaintext lives only here

    def daemon_state(self, daemon: str) -> Path:
        return self.state_dir / daemon

    @property
    def store_dir(self) -> Path:
        """Content-addressed ciphertext store (encryptor writes, merkle reads)."""
        return self.state_dir / "store"


@dataclass(frozen=True)
class BusConfig:
    address: str = ""  # empty: LUCID_BUS, then the system bus
    max_calls_in_flight: int = 64  # dbus-fast drops the link with hundreds in flight
    call_timeout_s: float = 30.0
    # Which unix user each daemon runs as, for the caller checks (lucid.runtime.principals):
    # "per-daemon" (the device: lucid-<daemon>) or "shared" (`lucid up`: all one user).
    daemon_users: str = "per-daemon"


@dataclass(frozen=True)
class WalletdConfig:
    recipients: tuple[str, ...] = ()  # auditor X25519 public keys (hex); the device is implicit
    # Spending limits walletd enforces when signing (docs/walletd.md); a day is a UTC day.
    # EVM: value + gas * maxFeePerGas of each transaction, in wei.
    evm_limit_tx_wei: int = 10**17  # 0.1 of the chain's coin per transaction
    evm_limit_day_wei: int = 10**18  # 1 coin per day
    # TRON: in the token's smallest unit (sun; 1e-6 USDT), TRX and USDT counted separately;
    # a transaction's fee_limit counts as TRX.
    tron_limit_tx: int = 100_000_000  # 100 TRX / 100 USDT per transaction
    tron_limit_day: int = 1_000_000_000  # 1,000 TRX / 1,000 USDT per day
    tron_usdt_contract: str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"  # USDT-TRC20 (mainnet); "": none
    tron_payout_router: str = ""  # payout router (base58check); "": no router calls signed
    tron_payout_function: str = "payout(address,uint256)"  # the router call walletd signs


@dataclass(frozen=True)
class RecorderConfig:
    codecs: tuple[str, ...] = ("h264_v4l2m2m", "libx264")  # probed in order
    fps: int = 15
    preset: str = "superfast"
    crf: int = 23
    segment_seconds: float = 1.0  # spool segment roll interval
    require_grant: bool = True  # default deny: record only sessions gatekeeper approved


@dataclass(frozen=True)
class ChunkerConfig:
    chunk_bytes: int = (
        16 * 1024 * 1024
    )  # full chunk size (8–16 MiB on the device); a flushed tail is smaller
    flush_seconds: float = 10.0  # bound on the unsealed tail of a live recording
    video_level: int = 1  # zstd level for H.264 (it gains little: FACTS)
    audit_level: int = 3  # zstd level for JSON audit lines
    scan_seconds: float = 0.5  # spool rescan interval (signals wake it sooner)


@dataclass(frozen=True)
class EncryptorConfig:
    scan_seconds: float = 0.5
    fsync: bool = True  # fsync ciphertext and its directory before reporting it sealed
    max_playbacks: int = 2  # decrypted streams to the web page at once (each one a pipe)


@dataclass(frozen=True)
class MerkleConfig:
    retry_seconds: float = 2.0  # retry interval when walletd/recorder are unreachable


@dataclass(frozen=True)
class GatekeeperConfig:
    audit_rotate_s: float = 3600.0  # seconds before the audit stream starts a new session
    audit_segment_s: float = 1.0  # audit segment roll interval while events arrive
    tick_s: float = 1.0  # expiry timer interval (requests, grants, approval documents)
    rp_name: str = "Lucid"  # WebAuthn relying party name shown by authenticators
    # The first policy's relying party (later ones come from SetPolicy): the web page's host.
    rp_id: str = "localhost"
    origins: tuple[str, ...] = ("http://localhost",)


@dataclass(frozen=True)
class AdminUiConfig:
    host: str = "127.0.0.1"  # listen address; the page is reached through localhost (WebAuthn)
    port: int = 8080  # 0: pick a free port; the URL is written to <state>/admin_ui/url
    public_origin: str = ""  # origin browsers use; empty: http://localhost:<port>
    session_ttl_s: int = 8 * 3600  # a login lasts at most this long
    login_attempts: int = 5  # failed logins allowed per account and per client address ...
    login_window_s: int = 300  # ... within this window; then 429 until it passes
    login_attempts_all: int = 50  # ... and over all accounts and addresses together
    hash_slots: int = 2  # Argon2 hashes at once (64 MiB each) ...
    hash_queue: int = 8  # ... and waiting for one; more are answered 503
    max_connections: int = 256  # open HTTP connections; more are answered 503 and closed
    header_timeout_s: float = 10.0  # request headers complete within this (also keep-alive)
    body_timeout_s: float = 10.0  # a request body arrives within this, else 408
    max_streams: int = 64  # open /api/events streams in all (more: 503) ...
    max_streams_per_login: int = 4  # ... and per login (more: 429)


@dataclass(frozen=True)
class TronNodeConfig:
    """tron-node: host payouts in USDT-TRC20 from work credits (docs/payouts.md)."""

    endpoint: str = ""  # TRON HTTP API (full node) base URL; empty: payouts off
    api_key: str = ""  # TronGrid API key; sent only to trongrid hosts
    request_timeout_s: float = 10.0
    payee: str = ""  # the host's TRON address (base58check) paid for this device's work
    # "usdt": transfer() on walletd.tron_usdt_contract; "router": walletd.tron_payout_function
    # on walletd.tron_payout_router (walletd's keys: what it signs is what tron-node calls)
    payout_method: str = "usdt"
    fee_limit_sun: int = 30_000_000  # most TRX a payout may burn for energy (sun; 30 TRX)
    expiration_s: int = 60  # lifetime of a signed transaction (TRON allows up to a day)
    epoch_s: int = 86400  # epoch n covers unix time [n * epoch_s, (n + 1) * epoch_s)
    heartbeats_per_epoch: int = 1440  # uptime samples per epoch (one a minute by default)
    credits_uptime: int = 100  # credits for an epoch of full uptime
    credits_per_session: int = 10  # credits per session sealed in the epoch ...
    max_sessions: int = 100  # ... counting at most this many
    usdt_per_credit: int = 10_000  # USDT base units (1e-6 USDT) per credit: 0.01 USDT
    exclude_sessions: tuple[str, ...] = ("gatekeeper-",)  # id prefixes that are no served session
    auto_pay: bool = True  # pay each completed epoch without being asked
    settle_s: float = 30.0  # wait this long after an epoch ends before paying it
    poll_s: float = 3.0  # confirmation polling interval
    retry_max_s: float = 300.0  # backoff ceiling (node down, walletd refusing, no funds)
    stake_trx_sun: int = 0  # TRX to freeze (stake 2.0) for resources, in sun; 0: none
    stake_resource: str = "ENERGY"  # what the stake buys: "ENERGY" or "BANDWIDTH"


@dataclass(frozen=True)
class ChainClientConfig:
    # "none": do not anchor. "local": a development chain: anvil is started (on 127.0.0.1)
    # when rpc_url is empty, LucidAnchors deployed when contract is empty, and the device
    # funded from the chain's dev account. Any other name: a real network given by
    # rpc_url, chain_id and contract; nothing is automatic. See docs/anchoring.md.
    ledger: str = "local"
    rpc_url: str = ""  # JSON-RPC endpoint
    chain_id: int = 0  # the chain rpc_url must serve (required for a network; 0: any, local only)
    contract: str = ""  # LucidAnchors address (0x...)
    confirmations: int = 3  # blocks, the anchor's own included, before a proof is final
    batch_size: int = 100  # roots per anchor transaction at most; a full batch goes at once
    batch_window_s: float = 300.0  # else the oldest queued root waits at most this long
    poll_s: float = 2.0  # receipt and confirmation polling while a transaction is in flight
    catch_up_s: float = 60.0  # re-list merkle's sealed sessions (a missed signal)
    backoff_initial_s: float = 1.0  # first wait after an error; doubles ...
    backoff_max_s: float = 300.0  # ... up to this
    max_fee_per_gas: int = 200 * 10**9  # wei: never offer more (EIP-1559 maxFeePerGas cap)
    max_priority_fee_per_gas: int = 2 * 10**9  # wei: tip cap
    min_priority_fee_per_gas: int = 10**6  # wei: tip floor
    replace_after_blocks: int = 10  # not mined by then: same nonce, fees +12.5 %
    local_block_time_s: float = 1.0  # block interval of the anvil started for "local"
    local_fund_wei: int = 10**18  # "local": keep the device's balance at least this


@dataclass(frozen=True)
class RdpGateConfig:
    """rdp_gate: the login gate of xrdp sessions (docs/rdp.md)."""

    device_name: str = ""  # shown on the waiting screen; empty: the host name
    scp_port: int = 3350  # sesman's port as xrdp dials it (/etc/xrdp/sesman.ini): the proxy
    sesman_port: int = 3351  # the real xrdp-sesman, on loopback behind the proxy
    rdp_port: int = 3389  # xrdp's port, for the connection details
    ttl_s: int = 3600  # requested scope: grant lifetime ...
    max_duration_s: int = 3600  # ... and longest session
    clipboard: bool = False  # requested scope: clipboard, file transfer, drives
    file_transfer: bool = False
    drives: bool = False
    poll_s: float = 1.0  # grant and X server check interval (gatekeeper signals wake it sooner)
    wait_reply_s: float = 15.0  # Wait returns "pending" after this long (under bus timeouts)
    outcome_show_s: float = 5.0  # a refusal stays on the waiting screen this long, then it ends


@dataclass(frozen=True)
class Config:
    paths: PathsConfig = field(default_factory=PathsConfig)
    bus: BusConfig = field(default_factory=BusConfig)
    walletd: WalletdConfig = field(default_factory=WalletdConfig)
    recorder: RecorderConfig = field(default_factory=RecorderConfig)
    chunker: ChunkerConfig = field(default_factory=ChunkerConfig)
    encryptor: EncryptorConfig = field(default_factory=EncryptorConfig)
    merkle: MerkleConfig = field(default_factory=MerkleConfig)
    admin_ui: AdminUiConfig = field(default_factory=AdminUiConfig)
    gatekeeper: GatekeeperConfig = field(default_factory=GatekeeperConfig)
    rdp_gate: RdpGateConfig = field(default_factory=RdpGateConfig)
    chain_client: ChainClientConfig = field(default_factory=ChainClientConfig)
    tron_node: TronNodeConfig = field(default_factory=TronNodeConfig)


T = TypeVar("T")


def _coerce(value: Any, typ: Any, where: str) -> Any:
    origin = typing.get_origin(typ)
    if typ is Path:
        if isinstance(value, str | Path):
            return Path(value)
    elif typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
            return value.lower() in ("1", "true", "yes")
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value, 0)
            except ValueError:
                pass
    elif typ is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif typ is str:
        if isinstance(value, str):
            return value
    elif origin is tuple:
        if isinstance(value, str):
            value = [v for v in (p.strip() for p in value.split(",")) if v]
        if isinstance(value, list | tuple):
            (item,) = typing.get_args(typ)[:1]
            return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    elif isinstance(typ, types.UnionType):
        raise ConfigError(f"{where}: unsupported type {typ}")
    raise ConfigError(f"config {where}: expected {getattr(typ, '__name__', typ)}, got {value!r}")


def _build(cls: type[T], data: dict[str, Any], where: str) -> T:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]  # cls is a dataclass type
    for key in data:
        if key not in names:
            raise ConfigError(
                f"config {where}.{key}: unknown key (known: {', '.join(sorted(names))})"
            )
    kwargs: dict[str, Any] = {}
    for name in names:
        if name not in data:
            continue
        typ = hints[name]
        if dataclasses.is_dataclass(typ):
            if not isinstance(data[name], dict):
                raise ConfigError(f"config {where}.{name}: expected a table")
            kwargs[name] = _build(typ, data[name], f"{where}.{name}".lstrip("."))  # type: ignore[arg-type]  # typ is a dataclass type here
        else:
            kwargs[name] = _coerce(data[name], typ, f"{where}.{name}".lstrip("."))
    return cls(**kwargs)


def _env_overrides(environ: typing.Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = key[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2:
            raise ConfigError(f"{key}: expected {ENV_PREFIX}<SECTION>__<KEY>")
        out.setdefault(parts[0], {})[parts[1]] = value
    return out


def load_config(
    path: Path | None = None, environ: typing.Mapping[str, str] | None = None
) -> Config:
    """Load the configuration.

    Args:
        path: TOML file; default ``$LUCID_CONFIG`` or ``/etc/lucid/lucid.toml``. A missing
            default file means embedded defaults; a missing explicit file is an error.
        environ: environment for overrides (default ``os.environ``).
    Raises:
        ConfigError: unreadable file, TOML syntax error, unknown key, wrong type.
    Returns:
        The frozen ``Config``.
    """
    env = os.environ if environ is None else environ
    explicit = path is not None or "LUCID_CONFIG" in env
    cfg_path = path or Path(env.get("LUCID_CONFIG", str(DEFAULT_CONFIG_PATH)))
    data: dict[str, Any] = {}
    try:
        data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config file {cfg_path} does not exist") from None
    except OSError as err:
        raise ConfigError(f"cannot read config file {cfg_path}: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {cfg_path}: {err}") from err
    for section, values in _env_overrides(env).items():
        merged = dict(data.get(section, {}))
        merged.update(values)
        data[section] = merged
    return _build(Config, data, "")


def dump_config(cfg: Config) -> str:
    """Render ``cfg`` as TOML (used by ``lucid up`` to write the state dir's config)."""
    lines: list[str] = []
    for f in dataclasses.fields(cfg):
        section = getattr(cfg, f.name)
        lines.append(f"[{f.name}]")
        for sf in dataclasses.fields(section):
            lines.append(f"{sf.name} = {_toml_value(getattr(section, sf.name))}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
