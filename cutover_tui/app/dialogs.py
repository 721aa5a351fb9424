"""The dashboard's flows: each asks its questions in a dialog, then appends what ``cutover_tui.flows`` returns.

A flow runs as a worker (group ``flow``: one at a time), so the dashboard
keeps drawing while a dialog waits. The rules (what to ask, which events to
append) are pure, in ``cutover_tui.flows`` and ``cutover_tui.evidence``; here
are the dialogs and the appends, and how a session ends (quit, SIGTERM, SIGHUP).
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import tzinfo
from typing import Any

from textual import work
from textual.app import App

from cutover_tui import evidence as evidence_rules
from cutover_tui import flows
from cutover_tui.app.actions import READ_ONLY_NOTICE
from cutover_tui.backend import ReadOnlySession, SessionBackend
from cutover_tui.flows import OUTCOME_WORDS, ending_outcome
from cutover_tui.state import Mode, SessionState
from cutover_tui.store import format_ts
from runbooks.model import Runbook, StepKind

#: Signals that end a live session as a quit does: logged, flushed, closed.
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class DialogFlows(App[None]):
    """The flows of ``CutoverApp``: dialogs, then appends; and the session's end."""

    backend: SessionBackend
    runbook: Runbook
    session: SessionState
    zone: tzinfo | None
    ended_by_signal: str | None
    _ending: bool
    _signals_installed: list[int]
    _watched_tty: int | None = None  # the terminal's descriptor once checked; -1 when there is none to watch

    @work(group="why", exclusive=True, exit_on_error=False)
    async def _why_flow(self, condition_id: str) -> None:
        from cutover_tui.screens.why import WhyScreen
        from cutover_tui.why import explain

        if getattr(self.backend, "why", None) is not None:
            why = explain(self.backend, condition_id)  # a live session answers from memory, on this loop
        else:
            why = await asyncio.to_thread(explain, self.backend, condition_id, self.session)  # reads the log
        await self.push_screen(WhyScreen(why, self.zone))

    @work(group="flow", exit_on_error=False)
    async def _start_flow(self, step_id: str) -> None:
        from cutover_tui.screens.prompts import ConfirmScreen

        spec = self.runbook.step(step_id)
        unmet = flows.unmet_dependencies(self.runbook, self.session, step_id)
        if unmet:
            titles = ", ".join(dependency.title for dependency in unmet)
            confirmed = await self.push_screen_wait(
                ConfirmScreen(
                    f"Start: {spec.title}",
                    f"It depends on steps not done yet: {titles}. Start anyway?",
                    confirm_label="Start anyway",
                    danger=True,
                )
            )
            if not confirmed:
                return
        await self._record([("step_started", {"step": step_id})])

    @work(group="flow", exit_on_error=False)
    async def _complete_flow(self, step_id: str) -> None:
        match flows.how_to_complete(self.runbook.step(step_id), self.session.decisions):
            case "approve":
                await self._approve(step_id)
            case "decide":
                await self._decide(step_id)
            case "complete":
                await self._complete(step_id, override_reason=None)

    async def _approve(self, step_id: str) -> None:
        """Ask each approver still needed for their name and the phrase; the last approval completes the step."""
        from cutover_tui.screens.approval import ApprovalScreen

        spec = self.runbook.step(step_id)
        taken = flows.approvers_so_far(step_id, self.session.decisions)
        while len(taken) < spec.approvers:
            number = len(taken) + 1
            request = await self.push_screen_wait(
                ApprovalScreen(spec, number=number, of=spec.approvers, taken=taken, typist=self.backend.actor)
            )
            if request is None:
                return
            decision = self._decision_payload(
                "go", request.comment or "approved", step_id, phrase=request.phrase, decided_by=request.approver or None,
                approval=(number, spec.approvers) if spec.approvers > 1 else None,
            )  # fmt: skip
            if number == spec.approvers:
                await self._decide_then_complete(step_id, decision)
                return
            if not await self._record([("decision", decision)]):
                return
            taken.append(request.approver)

    @work(group="flow", exit_on_error=False)
    async def _decision_flow(self, step_id: str | None) -> None:
        await self._decide(step_id)

    async def _decide(self, step_id: str | None) -> None:
        from cutover_tui.screens.decision import DecisionScreen

        spec = self.runbook.step(step_id) if step_id is not None else None
        if spec is not None and spec.kind is StepKind.APPROVAL:
            self.notify("An approval step is approved with its phrase: press c.")
            return
        go_no_go = spec is not None and spec.kind is StepKind.GO_NO_GO
        from cutover_tui.correlate import answered_firings

        request = await self.push_screen_wait(
            DecisionScreen(
                step=spec,
                scorecard=self.runbook.scorecard if go_no_go else None,
                verdict=self.session.verdict,
                verdict_reasons=self._verdict_reasons(),
                deciders=flows.decider_choices(self.runbook, self.session),
                expected=flows.expected_decider(self.runbook, self.session),
                answers=answered_firings(self.session),
            )
        )
        if request is None:
            return
        payload = self._decision_payload(
            request.decision, request.reason, step_id, scorecard=request.scorecard, decided_by=request.decided_by
        )
        if step_id is not None and flows.decision_completes(spec, request.decision):
            await self._decide_then_complete(step_id, payload)
        elif await self._record([("decision", payload)]) and request.decision == "rollback":
            await self._offer_rollback(request.reason)

    async def _offer_rollback(self, reason: str) -> None:
        """After a ROLLBACK decision, offer to switch to the rollback plan with the same reason."""
        from cutover_tui.screens.prompts import ConfirmScreen

        if self.session.mode is Mode.ROLLBACK:
            return
        confirmed = await self.push_screen_wait(
            ConfirmScreen(
                "Enter rollback",
                f"Decision logged. Switch to the rollback plan now? Reason: {reason}",
                confirm_label="Enter rollback",
                danger=True,
            )
        )
        if confirmed:
            await self._record([("rollback_started", {"reason": reason})])

    async def _decide_then_complete(self, step_id: str, decision: dict[str, Any]) -> None:
        """Record the decision; then complete the step, asking only for what is still missing."""
        if not await self._record([("decision", decision)]):
            return
        await self._complete(step_id, override_reason=flows.decision_override(decision))

    async def _complete(self, step_id: str, *, override_reason: str | None) -> None:
        """Complete a step: the gate passes or is overridden with a reason; required evidence is attached.

        ``override_reason`` is the decision that already answered for the gate
        (go/no-go and approval steps); a plain task asks the operator.
        """
        from cutover_tui.screens.complete_step import CompleteStepScreen

        spec = self.runbook.step(step_id)
        step = self.session.step(step_id)
        answers: dict[str, str] = {}
        unticked_reason: str | None = None
        questions = flows.completion_questions(spec, step, override_reason=override_reason)
        if questions is not None:
            request = await self.push_screen_wait(
                CompleteStepScreen(
                    spec, questions.gate, owed=questions.owed, answers=questions.answers, unchecked=questions.unticked
                )
            )
            if request is None:
                return
            answers = request.evidence
            override_reason = request.override_reason or override_reason
            unticked_reason = request.unticked_reason
        await self._record(
            flows.completion_events(
                spec, step, evidence=answers, override_reason=override_reason, unticked_reason=unticked_reason
            )
        )

    @work(group="flow", exit_on_error=False)
    async def _reason_flow(
        self, kind: str, step_id: str, title: str, prompt: str, confirm_label: str, danger: bool
    ) -> None:
        from cutover_tui.screens.prompts import TextPromptScreen

        reason = await self.push_screen_wait(
            TextPromptScreen(
                title,
                prompt,
                confirm_label=confirm_label,
                placeholder="reason (required, logged)",
                danger=danger,
                empty_refusal="A reason is required: type why (it is logged), or Escape to cancel.",
            )
        )
        if reason:
            await self._record([(kind, {"step": step_id, "reason": reason})])

    @work(group="flow", exit_on_error=False)
    async def _evidence_flow(self, step_id: str) -> None:
        from cutover_tui.screens.evidence import EvidenceScreen

        spec = self.runbook.step(step_id)
        given = evidence_rules.evidence_answers(spec, self.session.step(step_id))
        answers = await self.push_screen_wait(EvidenceScreen(spec, given))
        if answers:
            await self._record(evidence_rules.evidence_events(step_id, answers))

    @work(group="flow", exit_on_error=False)
    async def _note_flow(self, step_id: str | None) -> None:
        from cutover_tui.screens.prompts import TextPromptScreen

        text = await self.push_screen_wait(
            TextPromptScreen(
                "Note",
                "Note for the log:",
                confirm_label="Add note",
                empty_refusal="The note is empty: type it, or Escape to cancel.",
            )
        )
        if text:
            await self._record([flows.note_event(text, step_id)])

    @work(group="flow", exit_on_error=False)
    async def _t0_flow(self) -> None:
        from cutover_tui.screens.set_t0 import SetT0Screen

        moment = await self.push_screen_wait(SetT0Screen(self.backend.now, self.zone, self.session.t0))
        if moment is not None:
            await self._record([("t0_set", {"t0": format_ts(moment)})])

    @work(group="flow", exit_on_error=False)
    async def _rollback_flow(self) -> None:
        from cutover_tui.screens.prompts import TextPromptScreen

        reason = await self.push_screen_wait(
            TextPromptScreen(
                "ENTER ROLLBACK",
                "Switch to the rollback plan. This is logged and cannot be undone. Why?",
                confirm_label="Enter rollback",
                placeholder="reason (required)",
                danger=True,
                empty_refusal="A reason is required to enter rollback: type why (it is logged), or Escape to cancel.",
            )
        )
        if reason:
            await self._record([("rollback_started", {"reason": reason})])

    @work(group="flow", exit_on_error=False)
    async def _quit_flow(self) -> None:
        from cutover_tui.screens.prompts import ConfirmScreen

        outcome = ending_outcome(self.session)
        confirmed = await self.push_screen_wait(
            ConfirmScreen(
                "Quit",
                f"Stop polling, end the session as {OUTCOME_WORDS[outcome]} and close the dashboard? "
                "The session log is kept; run the same command to resume.",
                confirm_label="Quit",
            )
        )
        if confirmed:
            await self._end_session(outcome, "quit")

    # ------------------------------------------------------------ ending (quit, SIGTERM, SIGHUP)

    async def _end_session(self, outcome: str, reason: str) -> None:
        """Log ``session_ended`` (durable before the exit), then exit; the backend's stop flushes and closes the log."""
        if self._ending:
            return
        self._ending = True
        try:
            await self.backend.append("session_ended", {"outcome": outcome, "reason": reason})
        except Exception as error:  # a failed write must not keep a dying session open
            self.notify(f"Not recorded (session_ended): {error}", title="Log write failed", severity="error")
        self.exit()

    def _install_ending_signals(self) -> None:
        """SIGTERM and SIGHUP (the SSH session dropped) end a live session as a quit does."""
        if self.backend.read_only:
            return
        loop = asyncio.get_running_loop()
        for signum in ENDING_SIGNALS:
            try:
                loop.add_signal_handler(signum, self._on_ending_signal, signum)
            except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no such signal here
                continue
            self._signals_installed.append(signum)

    def _end_if_terminal_gone(self) -> None:
        """A terminal that hung up without a SIGHUP reaching us ends the session as SIGHUP does (checked each time the clock is set).

        The kernel signals a hung-up terminal's session leader alone: under
        ``make demo`` (or a shell that ignores SIGHUP) the dashboard never hears,
        and Textual's input thread reads end-of-file from the dead terminal in a
        busy loop. A hung-up terminal answers every ioctl with EIO, so it is no
        longer a tty.
        """
        tty = self._watched_tty
        if tty is None:  # the first time: watch a real terminal only (the web driver's is a pipe; headless has none)
            fileno = getattr(self._driver, "fileno", None)
            tty = self._watched_tty = fileno if isinstance(fileno, int) and os.isatty(fileno) else -1
        if tty < 0 or os.isatty(tty):
            return
        if self.backend.read_only:
            os._exit(128 + signal.SIGHUP)  # nothing to log; a terminal that is gone cannot be restored
        self._on_ending_signal(signal.SIGHUP)

    def _remove_ending_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._signals_installed:
            loop.remove_signal_handler(signum)
        self._signals_installed.clear()

    def _on_ending_signal(self, signum: int) -> None:
        self.ended_by_signal = signal.Signals(signum).name
        outcome = ending_outcome(self.session)
        end_at_once = getattr(self.backend, "end_at_once", None)
        if signum == signal.SIGHUP and end_at_once is not None and not self._ending:
            # The terminal is gone: Textual cannot restore it, and writing to it
            # may block the event loop. Log the end, close the log, leave.
            self._ending = True
            try:
                end_at_once(outcome, self.ended_by_signal)
            finally:
                os._exit(128 + signum)
        self.run_worker(self._end_session(outcome, self.ended_by_signal), group="ending", exit_on_error=False)

    @work(group="append", exit_on_error=False)
    async def _append_events(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        await self._record(events)

    async def _record(self, events: list[tuple[str, dict[str, Any]]]) -> bool:
        """Append ``events`` in order, stopping at the first failure (shown as a notification).

        Returns:
            True when every event is durable in the log.
        """
        for kind, payload in events:
            try:
                await self.backend.append(kind, payload)
            except ReadOnlySession:
                self.notify(READ_ONLY_NOTICE, severity="warning")
                return False
            except Exception as error:  # any failure must reach the operator
                self.notify(f"Not recorded ({kind}): {error}", title="Log write failed", severity="error", timeout=15)
                return False
        return True

    # ------------------------------------------------------------ payload helpers

    def _decision_payload(
        self,
        decision: str,
        reason: str,
        step_id: str | None,
        *,
        scorecard: dict[str, Any] | None = None,
        phrase: str | None = None,
        decided_by: str | None = None,
        approval: tuple[int, int] | None = None,
    ) -> dict[str, Any]:
        """A decision with the snapshot of every condition and the verdict the commander saw (``flows.decision_payload``)."""
        return flows.decision_payload(
            self.runbook, self.session, decision, reason, step_id,
            decided_by=decided_by, scorecard=scorecard, phrase=phrase, approval=approval,
        )  # fmt: skip

    def _verdict_reasons(self) -> list[str]:
        """Why the verdict is what it is, worst first (derived with it, in the reducer)."""
        return list(self.session.verdict_reasons)
