"""One verdict on a bundle, as ``lucid verify`` prints it and the web page's "Verified" shows it.

`judge` runs, in ``lucid verify``'s order, `verify.verify_bundle`, the optional chain
check (`anchor.verify_online`, only when given an RPC) and `trust.assess` against the
verifier's `TrustRoots`. It returns a `Verdict` on success; every failure (of the bundle,
of the chain's answer, or of the trust roots) is raised as one `VerificationError`, whose
FAILED line reads ``FAILED <file>: <item>: <failure_message(err)>``. Both callers print
or show exactly `Verdict.summary`, `Verdict.lines` and `failure_message`, so the command
and the page cannot say different things about the same file.

This module does not print, does not read trust files, does not choose an RPC endpoint
and does not turn errors into exit codes (``lucid.cli.evidence_cmds`` does).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from lucid.evidence.anchor import Rpc, verify_online
from lucid.evidence.errors import VerificationError
from lucid.evidence.trust import Assessment, TrustRoots, assess
from lucid.evidence.verify import VerifyReport, verify_bundle

__all__ = ["Verdict", "failure_message", "judge"]


@dataclass(frozen=True)
class Verdict:
    """A bundle that verified and is rooted in what the verifier trusts."""

    report: VerifyReport
    assessment: Assessment

    @property
    def summary(self) -> str:
        """The OK line after ``OK <file>: `` (session, chunks, bytes, root, and whether the
        recording ended abnormally)."""
        r = self.report
        return (
            f"session {r.session}, {r.chunk_count} chunks, {r.total_bytes} bytes, "
            f"root {r.tree_root.hex()}" + ("" if r.complete else " (recording ended abnormally)")
        )

    @property
    def lines(self) -> list[str]:
        """What the OK rests on, one sentence each (`trust.Assessment.lines`), then one
        line per reserved member this version accepts without checking (§9)."""
        unchecked = [
            f"not checked: member {m} (reserved for a later version)"
            for m in self.report.unverified_members
        ]
        return self.assessment.lines + unchecked


def judge(
    path: str | os.PathLike[str],
    roots: TrustRoots,
    *,
    progress: Callable[[int], None] | None = None,
    rpc: Rpc | None = None,
) -> Verdict:
    """Verify the bundle at ``path`` and judge it against ``roots``.

    Args:
        path: The ``.lucid`` file.
        roots: What the verifier trusts (empty: nothing pinned; the lines say so).
        progress: Passed to `verify_bundle` (chunk bytes checked so far).
        rpc: When given, ``anchor.json`` must exist and is checked against this chain.

    Raises:
        VerificationError: a check failed, including ``anchor`` (no anchor.json to check
            with an RPC), ``anchor.*`` (the chain disagrees) and ``trust.*`` (not rooted
            in ``roots``).
        FormatError: not a bundle (as `verify_bundle`).
        RpcError: the chain could not be asked (nothing was decided about it).
        OSError: the file cannot be read.
    """
    report = verify_bundle(path, progress=progress)
    anchor = report.anchor
    confirmations: int | None = None
    if rpc is not None:
        if anchor is None:
            raise VerificationError("anchor", "anchor: the bundle has no anchor.json to check")
        chain = verify_online(anchor, rpc, identity_key=report.device_ed25519)
        confirmations = chain.confirmations
    assessment = assess(
        report.device_ed25519,
        report.approvers,
        report.has_policy,
        None if anchor is None else (anchor.block_number, anchor.chain_id),
        roots,
        confirmations=confirmations,
    )
    if assessment.failure is not None:
        raise assessment.failure
    return Verdict(report, assessment)


def failure_message(err: VerificationError) -> str:
    """The error without its own ``item:`` prefix (a FAILED line names the item once)."""
    text = str(err)
    return text[len(err.item) + 2 :] if text.startswith(err.item + ": ") else text
