"""``cutover-tui verify FILE`` and ``cutover-tui seal FILE --key KEY``: the log as evidence.

``verify`` walks the hash chain and every stored reading against its seal.
Exit 0 printing ``N events and M readings verified`` and the head (seq and
sha256); 1 naming the first bad seq or reading and why (edited, deleted,
reordered, inserted), or when ``--expect-head`` names a head the log does not
hold (cut short or rewritten), or when ``--signer`` does not vouch for the
seal; 2 when the file is not a session log, is damaged, or cannot be read.

``seal`` signs the head with ``ssh-keygen -Y sign`` (as git signs commits)
into ``FILE.seal``; ``verify --signer KEY.pub`` checks that signature and that
the log still holds the sealed head.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: The ``ssh-keygen -Y`` namespace of a seal: a signature made for anything else does not verify as one.
SEAL_NAMESPACE = "cutover-tui-head@cutover-tui"
SEAL_SUFFIX = ".seal"
_SIGNATURE_START = "-----BEGIN SSH SIGNATURE-----"
_HEAD_TEXT = re.compile(r"^(?:(?:seq\s*)?(\d+)[\s:]+(?:sha256\s*)?)?([0-9a-fA-F]{16,64})$")
MIN_HEAD_PREFIX = 16


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Add ``verify``'s or ``seal``'s arguments to its sub-parser."""
    parser.add_argument("file", metavar="FILE", help="a session log (*.cutover.db)")
    if command == "verify":
        parser.add_argument(
            "--expect-head",
            metavar="HASH",
            help="exit 1 unless the log holds this head (as published: the sha256, at least "
            f"{MIN_HEAD_PREFIX} hex digits of it, or 'SEQ:SHA256')",
        )
        parser.add_argument(
            "--signer",
            metavar="PUBKEY",
            help="exit 1 unless FILE.seal is signed by this SSH public key (a .pub or authorized_keys file) "
            "and the log still holds the head it seals",
        )
        parser.add_argument("--seal", metavar="SEAL", help="the seal to check with --signer (default: FILE.seal)")
    else:
        parser.add_argument(
            "--key", metavar="KEY", required=True, help="SSH private key to sign with (ssh-keygen -Y sign -f KEY)"
        )
        parser.add_argument("-o", "--output", metavar="SEAL", help="where to write the seal (default: FILE.seal)")


def run(command: str, args: argparse.Namespace) -> int:
    from cutover_tui.store import SessionLogError

    try:
        return _verify(args) if command == "verify" else _seal(args)
    except (SessionLogError, SealError) as error:
        print(f"cutover-tui {command}: {error}", file=sys.stderr)
        return 2


class SealError(Exception):
    """A seal cannot be made or read (no ssh-keygen, unreadable key or seal file)."""


def _verify(args: argparse.Namespace) -> int:
    """Verify ``args.file``; return 0 intact, 1 tampered (or not the expected head / signer), 2 unreadable."""
    from cutover_tui.store import SessionLog
    from runbooks.grammar import counted

    expected = parse_head(args.expect_head) if args.expect_head else None
    with SessionLog.open_readonly(args.file) as log:
        result = log.verify()
        if not result.ok:
            where = f"seq {result.bad_seq}: " if result.bad_seq is not None else ""
            print(f"{args.file}: {where}{result.reason}")  # a bad reading is named in the reason
            return 1
        print(f"{counted(result.events, 'event')} and {counted(result.ticks, 'reading')} verified")
        print(f"head: seq {result.head_seq} sha256 {result.head_hash}")
        if expected is not None and not log.holds_head(expected[1], expected[0]):
            print(f"{args.file}: does not hold the expected head {_shown_head(*expected)}: "
                  "the log was cut short or rewritten since that head was published")  # fmt: skip
            return 1
        if args.signer:
            seal_path = Path(args.seal) if args.seal else Path(str(args.file) + SEAL_SUFFIX)
            sealed = read_seal(seal_path)
            problem = check_signature(sealed, Path(args.signer))
            if problem:
                print(f"{seal_path}: {problem}")
                return 1
            if not log.holds_head(sealed.hash, sealed.seq):
                print(f"{args.file}: does not hold the head sealed in {seal_path} (seq {sealed.seq} sha256 {sealed.hash}): "
                      "the log was cut short or rewritten since it was sealed")  # fmt: skip
                return 1
            print(f"sealed head seq {sealed.seq} signed by {args.signer}; the log holds it")
    return 0


def parse_head(text: str) -> tuple[int | None, str]:
    """``HASH``, ``SEQ:HASH`` or ``seq N sha256 HASH`` (as ``verify`` prints it) -> (seq or None, lower-case hex).

    Raises:
        SealError: not a head.
    """
    match = _HEAD_TEXT.match(text.strip())
    if match is None:
        raise SealError(
            f"--expect-head {text!r} is not a head: give its sha256 (at least {MIN_HEAD_PREFIX} hex digits) or SEQ:SHA256"
        )
    return (int(match.group(1)) if match.group(1) else None), match.group(2).lower()


def _shown_head(seq: int | None, digest: str) -> str:
    return f"seq {seq} sha256 {digest}" if seq is not None else f"sha256 {digest}"


# ----------------------------------------------------------------- seals


@dataclass(frozen=True, slots=True)
class Seal:
    """A signed head: the message signed and its SSH signature."""

    seq: int
    hash: str
    message: str
    signature: str


def seal_message(file_name: str, seq: int, digest: str) -> str:
    """The text a seal signs."""
    return f"cutover-tui session log head\nfile: {file_name}\nseq: {seq}\nsha256: {digest}\n"


def read_seal(path: Path) -> Seal:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SealError(f"{path}: cannot read the seal ({error.strerror or error})") from None
    message, marker, signature = text.partition(_SIGNATURE_START)
    seq = re.search(r"^seq: (\d+)$", message, re.M)
    digest = re.search(r"^sha256: ([0-9a-f]{64})$", message, re.M)
    if not marker or seq is None or digest is None:
        raise SealError(f"{path}: not a cutover-tui seal")
    return Seal(int(seq.group(1)), digest.group(1), message, marker + signature)


def _ssh_keygen() -> str:
    program = shutil.which("ssh-keygen")
    if program is None:
        raise SealError("ssh-keygen is not installed (Debian: openssh-client)")
    return program


def check_signature(seal: Seal, signer: Path) -> str:
    """Empty when ``seal`` is signed by a key in ``signer`` (a public key or authorized_keys file); else why not."""
    try:
        keys = [
            line.strip()
            for line in signer.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
    except OSError as error:
        raise SealError(f"{signer}: cannot read the public key ({error.strerror or error})") from None
    if not keys:
        raise SealError(f"{signer}: holds no public key")
    with tempfile.TemporaryDirectory(prefix="cutover-seal-") as folder:
        allowed = Path(folder) / "allowed_signers"
        allowed.write_text("".join(f"cutover-tui-signer {key}\n" for key in keys), encoding="utf-8")
        signature = Path(folder) / "head.sig"
        signature.write_text(seal.signature, encoding="utf-8")
        done = subprocess.run(
            [_ssh_keygen(), "-Y", "verify", "-f", str(allowed), "-I", "cutover-tui-signer", "-n", SEAL_NAMESPACE,
             "-s", str(signature)],
            input=seal.message, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        return f"the signature does not verify with {signer} ({reason[-1] if reason else 'no reason given'})"
    return ""


def _seal(args: argparse.Namespace) -> int:
    """Sign the head of ``args.file`` into a seal; 0 written, 1 the log does not verify, 2 cannot."""
    from cutover_tui.store import SessionLog

    with SessionLog.open_readonly(args.file) as log:
        result = log.verify()
    if not result.ok:
        where = f"seq {result.bad_seq}: " if result.bad_seq is not None else ""
        print(f"{args.file}: not sealed, the log does not verify: {where}{result.reason}", file=sys.stderr)
        return 1
    message = seal_message(Path(args.file).name, result.head_seq, result.head_hash)
    signature = _sign(args.key, message)
    out = Path(args.output) if args.output else Path(str(args.file) + SEAL_SUFFIX)
    try:
        out.write_text(message + signature, encoding="utf-8")
    except OSError as error:
        raise SealError(
            f"{out}: cannot write the seal ({error.strerror or error}); choose another place with -o"
        ) from None
    print(f"sealed head seq {result.head_seq} sha256 {result.head_hash}")
    print(f"seal written to {out}; check it with: cutover-tui verify {args.file} --signer PUBLIC_KEY")
    return 0


def _sign(key: str, message: str) -> str:
    """The armored SSH signature of ``message`` by ``key`` (``ssh-keygen -Y sign``)."""
    with tempfile.TemporaryDirectory(prefix="cutover-seal-") as folder:
        path = Path(folder) / "head"
        path.write_text(message, encoding="utf-8")
        done = subprocess.run(
            [_ssh_keygen(), "-Y", "sign", "-f", key, "-n", SEAL_NAMESPACE, str(path)],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        signature = path.with_name("head.sig")
        if done.returncode != 0 or not signature.exists():
            reason = (done.stderr or done.stdout).strip().splitlines()
            raise SealError(f"ssh-keygen could not sign with {key}: {reason[-1] if reason else 'no reason given'}")
        return signature.read_text(encoding="utf-8")
