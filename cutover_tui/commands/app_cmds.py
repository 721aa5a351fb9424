"""``run``, ``demo``, ``follow`` and ``replay``: the dashboard over a backend."""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from cutover_tui.commands.options import add_what_if

if TYPE_CHECKING:
    from collections.abc import Callable

    from cutover_tui.live import LiveBackend
    from cutover_tui.store import SessionLog
    from runbooks.model import Runbook

#: The demo sets T-0 this long after it starts, and the scripted auth-error spike
#: begins at T+2m and lasts 2m30s: long enough to fire "> 1% for 1m".
DEMO_LEAD = 30.0
DEMO_SPIKE_AT = 120.0
DEMO_SPIKE_FOR = 150.0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    if command == "run":
        parser.add_argument("runbook", metavar="RUNBOOK", help="the runbook (YAML)")
        parser.add_argument(
            "--db",
            metavar="FILE",
            help="session log; resumed when it exists (default: RUNBOOK-NAME-<time>.cutover.db here)",
        )
        parser.add_argument("--as", dest="actor", metavar="NAME", help="who is at the keys (default: login name)")
        parser.add_argument("--rehearsal", action="store_true", help="mark the session a rehearsal")
        parser.add_argument(
            "--accept-runbook-change",
            action="store_true",
            help="resume although the runbook changed since the session began (logged)",
        )
        parser.add_argument(
            "--accept-broken-chain",
            action="store_true",
            help="resume although the log's hash chain does not verify (logged; verify keeps failing)",
        )
        parser.add_argument(
            "--trust", action="store_true", help="run the runbook's commands without asking (remembered nowhere)"
        )
        parser.add_argument(
            "--publish-head",
            metavar="CMD",
            help="after each decision and at the end, run CMD (sh -c) with the log's head on its "
            "standard input and in CUTOVER_HEAD_SEQ / CUTOVER_HEAD_SHA256, to keep a copy elsewhere",
        )
    elif command == "demo":
        parser.add_argument("--db", metavar="FILE", help="session log (default: demo-<time>.cutover.db here)")
        parser.add_argument("--as", dest="actor", metavar="NAME", help="who is at the keys (default: login name)")
        parser.add_argument(
            "--with-prometheus",
            action="store_true",
            help="run it on a real Prometheus and Alertmanager (Debian packages prometheus and "
            "prometheus-alertmanager), started on free loopback ports and stopped on exit",
        )
        parser.add_argument(
            "--for",
            dest="for_",
            metavar="DURATION",
            type=_duration,
            help="end the session after DURATION (e.g. 20s, 5m), as a quit does, and exit",
        )
    else:
        parser.add_argument("db", metavar="FILE", help="a session log (*.cutover.db)")
        if command == "replay":
            add_what_if(
                parser,
                "also show when a changed stop condition would have pended, fired and recovered on the recorded "
                "readings, e.g. 'auth_errors: > 2%% for 2m' (repeatable)",
            )


def _user_errors() -> tuple[type[Exception], ...]:
    """What a command says in one line (exit 2); looked up only when something is raised, so that a start
    does not import the evaluators' module for ``JudgeUnavailable`` alone."""
    from checks.baseline import JudgeUnavailable
    from cutover_tui.store import SessionLogError
    from cutover_tui.trust import NotApproved

    return (SessionLogError, NotApproved, FileExistsError, FileNotFoundError, ValueError, JudgeUnavailable)


def run(command: str, args: argparse.Namespace) -> int:
    from cutover_tui.redaction import redact_text

    try:
        if command == "run":
            return _run(args)
        if command == "demo":
            return _demo(args)
        if command == "follow":
            return _follow(args)
        return _replay(args)
    except _user_errors() as error:
        print(redact_text(f"cutover-tui {command}: {error}"), file=sys.stderr)
        return 2


def _timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _open_log(
    runbook, db: Path, actor: str, *, rehearsal: bool = False, accept_change: bool = False, accept_broken: bool = False
):
    from cutover_tui.store import SessionLog

    if db.exists() or db.is_symlink():
        return SessionLog.open(
            db, runbook, operator=actor, accept_runbook_change=accept_change, accept_broken_chain=accept_broken
        )
    return SessionLog.create(db, runbook, operator=actor, rehearsal=rehearsal)


def _in_background(work: Callable[[], SessionLog]) -> Callable[[], SessionLog]:
    """Start ``work`` (creating or opening the log) on a thread of its own; the function returned waits for it.

    The log's commits wait on the disk (each is fsynced) while the dashboard's modules are imported: the two
    overlap. Its error, if any, is raised where the log is awaited, as if it had been opened there.
    """
    import threading

    import cutover_tui.store  # noqa: F401  (here first: a module imported by two threads at once may deadlock)

    done: list[SessionLog] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(work())
        except BaseException as error:  # handed to the waiting thread whatever it is
            failed.append(error)

    # Not a daemon: an exit while it runs waits for the log to be whole (or removed), never half-made.
    thread = threading.Thread(target=run, name="open-log")
    thread.start()

    def wait() -> SessionLog:
        thread.join()
        if failed:
            raise failed[0]
        return done[0]

    return wait


def _duration(text: str) -> float:
    from runbooks.grammar import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a duration above zero")
    return seconds


#: The question the demo's report can answer afterwards: would a looser rollback trigger have waited?
DEMO_WHAT_IF = "auth_errors: > 2% for 2m"


def executable() -> str:
    """How to run this same cutover-tui again from anywhere: the full path of the script, or python -m."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "cutover-tui" and script.exists():
        return shlex.quote(str(script.resolve()))
    import shutil

    found = shutil.which("cutover-tui")
    if found and Path(found).resolve().parent == Path(sys.executable).resolve().parent:
        return shlex.quote(str(Path(found).absolute()))
    return f"{shlex.quote(sys.executable)} -m cutover_tui"


def _live(
    runbook,
    opened: Callable[[], SessionLog],
    actor: str,
    *,
    publish_head: str | None = None,
    end_after: float | None = None,
    what_if: str | None = None,
) -> int:
    from cutover_tui.app import ending_outcome, make_app
    from cutover_tui.live import LiveBackend

    log = opened()  # created or opened meanwhile (``_in_background``)
    if publish_head:
        from cutover_tui.publish import PublishingLiveBackend

        backend: LiveBackend = PublishingLiveBackend(
            runbook, log, actor=actor, command=publish_head, defer_polling=True
        )
    else:
        backend = LiveBackend(runbook, log, actor=actor, defer_polling=True)
    app = make_app(backend)
    timer = None
    if end_after is not None:
        import threading

        # Ends as the quit dialog's "Quit" does: session_ended (reason quit) is durable, then the app exits.
        def end() -> None:
            app.run_worker(app._end_session(ending_outcome(app.session), "quit"), group="ending", exit_on_error=False)

        def when_due() -> None:
            try:
                app.call_from_thread(end)
            except RuntimeError:  # the app already left
                pass

        timer = threading.Timer(end_after, when_due)
        timer.daemon = True
        timer.start()
    try:
        app.run()
    finally:
        if timer is not None:
            timer.cancel()
    health = log.write_health
    if not health.ok:
        print(f"cutover-tui run: the log's last writes failed ({health.error}); "
              f"what the screen showed after {health.failing_since:%H:%M:%S} UTC is not in it", file=sys.stderr)  # fmt: skip
        return 1
    path = shlex.quote(str(Path(log.path).absolute()))
    exe = executable()
    print(f"Session log: {Path(log.path).absolute()}")
    print(f"  replay it:  {exe} replay {path}")
    print(f"  report:     {exe} report {path}")
    if what_if:
        print(f"  what if:    {exe} report {path} --what-if {shlex.quote(what_if)}")
    print(f"  verify:     {exe} verify {path}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from cutover_tui.redaction import Redactor, activate, secret_env_names
    from cutover_tui.trust import require_approval
    from runbooks import load_runbook

    runbook = load_runbook(args.runbook)
    activate(Redactor(secret_env_names(runbook)))
    if any(condition.judge == "mann_whitney" for condition in runbook.stop_conditions):
        from checks.baseline import require_scipy

        require_scipy()  # before anything runs: a judge that cannot judge would only ever say unknown
    actor = args.actor or getpass.getuser()
    db = Path(args.db) if args.db else Path(f"{Path(args.runbook).stem}-{_timestamp()}.cutover.db")
    require_approval(runbook, trust=args.trust, command="run")  # before the log: nothing runs or is written unapproved
    log = _in_background(lambda: _open_log(
        runbook, db, actor, rehearsal=args.rehearsal, accept_change=args.accept_runbook_change,
        accept_broken=args.accept_broken_chain,
    ))  # fmt: skip
    return _live(runbook, log, actor, publish_head=args.publish_head)


def _demo(args: argparse.Namespace) -> int:
    import contextlib

    from checks.target import Phase, Scenario, Target
    from cutover_tui.sample_runbooks import DIRECTORY as SAMPLE_RUNBOOKS
    from cutover_tui.store import format_ts
    from runbooks import load_runbook, parse_runbook

    with_prometheus = getattr(args, "with_prometheus", False)
    if with_prometheus:
        from cutover_tui.commands.demo_stack import missing_binaries

        missing = missing_binaries()
        if missing:
            print(f"cutover-tui demo: --with-prometheus needs Prometheus and Alertmanager: "
                  f"apt-get install {' '.join(missing)}", file=sys.stderr)  # fmt: skip
            return 2
    spike = Phase(
        DEMO_LEAD + DEMO_SPIKE_AT, DEMO_SPIKE_FOR, auth_error_ratio=0.04, api_error_ratio=0.004, latency_p95=0.7
    )
    with contextlib.ExitStack() as stack, Target(scenario=Scenario([spike])) as target:
        os.environ["DEMO_URL"] = target.url
        demo_file = SAMPLE_RUNBOOKS / "demo.yaml"
        if with_prometheus:
            from cutover_tui.commands.demo_stack import (
                PrometheusStack,
                StackMissing,
                environment,
                prometheus_runbook_text,
            )

            print("Starting Prometheus and Alertmanager on loopback (the first scrape takes up to 6 s)…", flush=True)
            try:
                servers = stack.enter_context(PrometheusStack(target.url))
            except (StackMissing, RuntimeError) as error:
                print(f"cutover-tui demo: {error}", file=sys.stderr)
                return 2
            os.environ.update(environment(servers))
            print(f"  Prometheus:   {servers.prometheus_url}\n  Alertmanager: {servers.alertmanager_url}", flush=True)
            runbook = parse_runbook(prometheus_runbook_text(demo_file.read_text(encoding="utf-8")),
                                    f"{demo_file} (on Prometheus)")  # fmt: skip
        else:
            runbook = load_runbook(demo_file)
        actor = args.actor or getpass.getuser()
        db = Path(args.db) if args.db else Path(f"demo-{_timestamp()}.cutover.db")

        def open_demo_log() -> SessionLog:
            log = _open_log(runbook, db, actor, rehearsal=True)
            if not any(event.kind == "t0_set" for event in log.events()):
                t0 = datetime.now(timezone.utc) + timedelta(seconds=DEMO_LEAD)
                log.append("t0_set", {"t0": format_ts(t0)}, actor="demo")
            return log

        return _live(
            runbook, _in_background(open_demo_log), actor, end_after=getattr(args, "for_", None), what_if=DEMO_WHAT_IF
        )


def runbook_from_log(db: str | os.PathLike[str]) -> Runbook:
    """The runbook the session stored (follow and replay need no runbook file)."""
    from cutover_tui.store import SessionLog

    log = SessionLog.open_readonly(db)
    try:
        return log.stored_runbook()
    finally:
        log.close()


def _follow(args: argparse.Namespace) -> int:
    from cutover_tui.app import make_app
    from cutover_tui.live import FollowBackend

    db = Path(args.db)
    make_app(FollowBackend(db, runbook_from_log(db))).run()
    return 0


def _replay(args: argparse.Namespace) -> int:
    from cutover_tui.app import make_app
    from cutover_tui.replay import ReplayBackend

    db = Path(args.db)
    runbook = runbook_from_log(db)
    specs = getattr(args, "what_if", None) or []
    if not specs:
        make_app(ReplayBackend(db, runbook)).run()
        return 0
    from cutover_tui.whatif import make_replay_backend, what_if

    results = what_if(db, specs, runbook)  # a bad spec is a ValueError: one line, exit 2
    make_app(make_replay_backend(db, runbook, results)).run()
    for result in results:
        print(f"What if {result.spec.text}: {result.summary()}")
    return 0
