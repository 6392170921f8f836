"""The supervisor simulator: automated supervisors driving contracts through the PUBLIC API.

Used by `contract-server simulate`, by the desktop's `--demo` and by load tests. Each
simulated supervisor keeps a few contracts going at once; for each it creates the contract
(with the reviewer/admin key), registers its supervisor task, starts it and then, phase by
phase: runs worker tasks, sometimes asks a question (and long-polls for the answer),
sometimes gets blocked for a while, marks the phase's deliverables and requests the advance.
A guarded advance waits for a human: the simulator never confirms it, it polls until a
reviewer confirmed (the phase moved) or asked for changes (active again, same phase; it
then works a little more and asks again). Heartbeats go out every `tick` seconds meanwhile.
Some contracts fail (`failed` with a reason), some supervisors go silent (no more
heartbeats, so the contract turns stale).

The demo keeps moving when nobody answers (issue 8 item 14): each supervisor keeps up to
MAX_CONTRACTS_PER_SUPERVISOR contracts *moving* and starts a new one whenever fewer move (a
contract waiting on the reviewer is parked, not counted), at most one new one every
ARRIVAL_TICKS; at most `max_waiting` contracts
may wait on the reviewer at once (`Attention`): past that, new contracts are unguarded and
questions are not asked, so guarded work never crowds out the rest; and finished contracts
are archived after `archive_after` ticks (`housekeeping`), so the lists do not fill up.

Heartbeats go out every `heartbeat_interval_seconds` of the server's `[contracts]` settings
(handed over in the restore answer; `tick` when a server does not say). Each contract gets a
worktree, listed in its heartbeats; the `Daemon` follows the event log and removes a
worktree when a reviewer asks (`worktree_cleanup_requested`, `contracts cleanup
--worktrees`), then reports the ones left in a heartbeat, so the server forgets it.

Pacing is in ticks (default 2 s). The first contracts have fixed roles so whoever starts
the demo sees, within a minute: a question (the first contract), a supervisor that works a
little and then goes silent, so an ACTIVE contract turns stale (the second), and a phase
confirmation (the third). Randomness comes from `random.Random(seed)` only. Server errors
are logged and the loop goes on; only `stop` (or cancellation) ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from core.clock import SystemClock, iso
from server.simulator_parts import (
    ARCHIVE_AFTER_TICKS,
    ARRIVAL_TICKS,
    Api,
    Attention,
    Role,
    deliverable_evidence,
    housekeeping,
)

log = logging.getLogger(__name__)

MAX_CONTRACTS_PER_SUPERVISOR = 3  # moving at once; contracts waiting on a human are parked
LONG_POLL_SECONDS = 20
WORKTREE_ROOT = "/var/tmp/contract-desk-simulator/worktrees"  # named, never created
EVENT_PAGE = 1000


# Built-in contract types (API.md): phase → its required deliverable.
DELIVERABLES: dict[str, dict[str, str]] = {
    "simple": {"plan": "plan-document", "execute": "pull-request"},
    "specification": {
        "research": "research-notes",
        "specify": "requirements-document",
        "plan": "plan-document",
        "execute": "pull-request",
        "review": "release-notes",
    },
    "execute": {},
}
_SUBJECTS = (
    "CSV export for invoices",
    "Billing service migration",
    "Search latency regression",
    "Onboarding e-mail flow",
    "Audit log retention",
    "Rate limiter for the public API",
    "Dark mode for the dashboard",
    "Flaky checkout tests",
    "PDF rendering of contracts",
    "Single sign-on with SAML",
)
_ACTIVITIES = (
    "reading the code base",
    "planning the change",
    "writing tests",
    "implementing",
    "running the test suite",
    "reviewing the diff",
    "updating documentation",
)
_FREE_TEXT = (
    "Which database should the migration target?",
    "Who owns the legacy endpoint we are replacing?",
    "What is the acceptable latency budget for this call?",
)
_CHOICES = (
    ("Which rollout strategy should I use?", ["canary", "blue-green", "all at once"]),
    ("Which library for PDF output?", ["weasyprint", "reportlab"]),
    ("Keep backwards compatibility for v1 clients?", ["yes", "no", "for 90 days"]),
)
_CONFIRMATIONS = (
    "The old tables can be dropped after the migration. Proceed?",
    "Tests pass locally; open the pull request now?",
)
_FAILURES = (
    "the build environment could not be provisioned",
    "upstream API returned errors for 10 minutes",
    "model context exhausted while planning",
)
_BLOCKERS = ("waiting for database credentials", "CI runners are down", "a dependency is yanked")
_KINDS = ("simple", "specification", "execute")


class Gone(Exception):
    """The contract can no longer be driven (failed, archived, deleted or repeatedly refused)."""


@dataclass
class Work:
    """One contract being driven; its heartbeat task reads the current state from here."""

    contract_id: str
    contract_type: str
    task_id: str
    phase: str
    phases: list[str]
    state: str = "working"
    activity: str = "starting"
    progress: int = 0
    waiting: bool = False  # waiting on a human: the supervisor may start another contract
    done: bool = False
    beats: int = 0
    guarded: bool = False
    role: Role = Role.RANDOM
    beat_every: float = 2.0  # seconds between heartbeats (the server's heartbeat interval)
    worktrees: list[str] = field(default_factory=list)


class Daemon:
    """The simulated supervisors' daemon: it keeps the worktrees of the contracts they drive
    (finished ones too) and removes one when a reviewer asks for it."""

    def __init__(self, api: Api, tick: float, stop: asyncio.Event) -> None:
        self.api = api
        self.tick = tick
        self.stop = stop
        self.works: dict[str, Work] = {}
        self.after = 0  # the last event seq seen

    def adopt(self, work: Work) -> None:
        self.works[work.contract_id] = work

    async def run(self) -> None:
        """Every tick, read the new events and act on the cleanup requests among them."""
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick):
                    await self.stop.wait()
            while not self.stop.is_set():
                page = await self.api.call(
                    "GET", "/events", params={"after": self.after, "limit": EVENT_PAGE}
                )
                if page is None:
                    break
                for event in page.get("events", []):
                    await self._act(event)
                self.after = int(page.get("lastSeq", self.after))
                if len(page.get("events", [])) < EVENT_PAGE:
                    break

    async def _act(self, event: dict[str, Any]) -> None:
        if event.get("type") != "worktree_cleanup_requested":
            return
        work = self.works.get(str(event.get("contract_id")))
        path = event.get("path")
        if work is None or path not in work.worktrees:
            return  # another daemon's, or gone already
        work.worktrees.remove(path)
        log.info("simulator: removed worktree %s of %s", path, work.contract_id)
        await send_heartbeat(self.api, work)  # the list without it: the server forgets it
        if not work.worktrees and work.done:
            del self.works[work.contract_id]


class SimulatedSupervisor:
    def __init__(
        self,
        index: int,
        api: Api,
        rng: random.Random,
        tick: float,
        stop: asyncio.Event,
        *,
        attention: Attention,
        daemon: Daemon | None = None,
    ) -> None:
        self.daemon = daemon or Daemon(api, tick, stop)
        self.index = index
        self.api = api
        self.rng = rng
        self.tick = tick
        self.stop = stop
        self.attention = attention
        self._works: list[Work] = []

    async def run(self) -> None:
        """Keep MAX_CONTRACTS_PER_SUPERVISOR contracts moving: a new one whenever fewer move
        (one at a time); contracts waiting on a human do not count."""
        drivers: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        next_start = loop.time()  # the first contract at once, then one per ARRIVAL_TICKS
        try:
            while not self.stop.is_set():
                drivers = {d for d in drivers if not d.done()}
                self._works = [w for w in self._works if not w.done]
                opened = len(self._works) == len(drivers)  # none still being opened
                moving = sum(1 for w in self._works if not w.waiting)
                due = loop.time() >= next_start
                if opened and due and moving < MAX_CONTRACTS_PER_SUPERVISOR:
                    drivers.add(loop.create_task(self._contract()))
                    next_start = loop.time() + self.tick * self._arrival_ticks()
                await self.pause(1)
        finally:
            for driver in drivers:
                driver.cancel()
            await asyncio.gather(*drivers, return_exceptions=True)

    def _arrival_ticks(self) -> float:
        # The first contracts (a question, a silent supervisor, a confirmation) come quickly.
        return 1 if self.attention.opened < Role.RANDOM.value else ARRIVAL_TICKS

    async def pause(self, ticks: float) -> None:
        """Sleep about `ticks` ticks (jittered); returns early when stopped."""
        delay = self.tick * ticks * self.rng.uniform(0.6, 1.4)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self.stop.wait()

    async def _contract(self) -> None:
        role = self.attention.next_role()
        work = await self._open(role)
        if work is None:
            await self.pause(3)
            return
        self._works.append(work)
        beating = asyncio.get_running_loop().create_task(self._heartbeats(work))
        try:
            await self._drive(work)
        except Gone as why:
            log.info("simulator: leaving contract %s: %s", work.contract_id, why)
        finally:
            work.done = True
            # Left while still waiting (the server kept failing): it still waits on the
            # reviewer, so it keeps its place under the cap.
            if not work.waiting:
                self.attention.release(work.contract_id)
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)

    async def _open(self, role: Role) -> Work | None:
        kind = "simple" if role is not Role.RANDOM else self.rng.choice(_KINDS)
        guarded = role in (Role.ASKS, Role.CONFIRMS) or (
            role is Role.RANDOM and self.rng.random() < 0.7
        )
        # No place left for one more contract to wait on the reviewer: this one runs through.
        placeholder = f"opening:{self.index}:{self.attention.opened}"
        guarded = guarded and self.attention.claim(placeholder)
        try:
            return await self._create(kind, guarded, role, placeholder)
        finally:
            self.attention.release(placeholder)

    async def _create(self, kind: str, guarded: bool, role: Role, placeholder: str) -> Work | None:
        subject = self.rng.choice(_SUBJECTS)
        body = {
            "name": f"{subject} #{next(self.attention.numbers)}",
            "description": f"Simulated work driven by supervisor {self.index + 1}",
            "contractType": kind,
            "phaseGuard": guarded,
        }
        contract = await self.api.call("POST", "/contracts", json=body, human=True)
        if contract is None:
            return None
        cid = contract["id"]
        self.attention.rename(placeholder, cid)
        task = await self.api.call(
            "POST", f"/contracts/{cid}/tasks", json={"name": "supervisor", "isSupervisor": True}
        )
        if task is None:
            self.attention.release(cid)
            return None
        phases = [p["id"] for p in sorted(contract["phases"], key=lambda p: p["order"])]
        work = Work(cid, kind, task["id"], contract["phase"], phases, guarded=guarded, role=role)
        work.worktrees.append(f"{WORKTREE_ROOT}/{cid}")
        work.beat_every = await self._heartbeat_interval(cid)
        self.daemon.adopt(work)
        # A supervisor announces itself before it starts the contract, so a running contract
        # always has a heartbeat, wherever the simulation is stopped.
        await self._heartbeat(work)
        await self.api.call("POST", f"/contracts/{cid}/status", json={"targetStatus": "active"})
        await self._save_state(work)
        return work

    async def _heartbeat_interval(self, contract_id: str) -> float:
        """The server's `heartbeat_interval_seconds`, from the restore answer a supervisor
        reads when it starts (the tick when the server does not say)."""
        restore = await self.api.call("GET", f"/contracts/{contract_id}/supervisor/restore")
        interval = (restore or {}).get("heartbeat_interval_seconds")
        if isinstance(interval, int | float) and not isinstance(interval, bool) and interval > 0:
            return float(interval)
        return self.tick

    async def _drive(self, work: Work) -> None:
        while True:
            first = work.role is not Role.RANDOM
            ask = work.role is Role.ASKS or (not first and self.rng.random() < 0.35)
            await self._work_phase(work, ask=ask, steps=1 if first else None)
            fate = self.rng.random()
            if work.role is Role.GOES_SILENT or (not first and fate < 0.05):
                work.activity = "(silent)"
                log.info("simulator: supervisor of %s goes silent", work.contract_id)
                raise Gone("went silent")
            if not first and fate < 0.10:
                await self._fail(work)
                raise Gone("failed")
            work.role = Role.RANDOM
            index = work.phases.index(work.phase)
            if index + 1 == len(work.phases):
                await self._finish(work)
                return
            await self._advance(work, work.phases[index + 1])

    async def _work_phase(self, work: Work, *, ask: bool, steps: int | None = None) -> None:
        work.state, work.waiting = "working", False
        steps = steps or self.rng.randint(1, 3)
        question_at = self.rng.randrange(min(steps, 2)) if ask else -1
        for step in range(steps):
            if step == question_at:
                await self._ask(work)
            await self._task(work)
            if await self._completing(work):
                return  # a phase without deliverables may complete on a finished task
        if self.rng.random() < 0.08:
            await self._blocked(work)
        deliverable = DELIVERABLES.get(work.contract_type, {}).get(work.phase)
        if deliverable is not None:
            work.activity = f"delivering {deliverable}"
            await self.pause(1)
            await self._expect(
                "POST",
                f"/contracts/{work.contract_id}/deliverables",
                json={
                    "deliverableId": deliverable,
                    "phase": work.phase,
                    **deliverable_evidence(deliverable, work.contract_id, self.rng),
                },
            )

    async def _completing(self, work: Work) -> bool:
        if work.phases.index(work.phase) + 1 < len(work.phases):
            return False
        contract = await self._expect("GET", f"/contracts/{work.contract_id}")
        return bool(contract["status"] in ("completing", "completed"))

    async def _task(self, work: Work, *, failing: bool = False) -> None:
        activity = self.rng.choice(_ACTIVITIES)
        work.activity = activity
        path = f"/contracts/{work.contract_id}/tasks"
        task = await self._expect("POST", path, json={"name": f"{work.phase}: {activity}"})
        await self.pause(1)
        await self.api.call("PATCH", f"{path}/{task['id']}", json={"status": "running"})
        work.state = "waiting_for_tasks"
        await self.pause(self.rng.uniform(1, 2))
        # A failed task is final and keeps every gate closed, so tasks fail only when
        # the whole contract does (see `_fail`).
        outcome = "failed" if failing else "done"
        await self.api.call("PATCH", f"{path}/{task['id']}", json={"status": outcome})
        work.state = "working"
        work.progress = min(99, work.progress + self.rng.randint(3, 12))

    async def _ask(self, work: Work) -> None:
        """Ask and wait for the answer; skipped when enough contracts wait already."""
        if not self.attention.claim(work.contract_id):
            return
        try:
            await self._ask_and_wait(work)
        finally:
            if not work.guarded:
                self.attention.release(work.contract_id)

    async def _ask_and_wait(self, work: Work) -> None:
        kind = self.rng.choice(("free_text", "choice", "confirmation"))
        body: dict[str, Any] = {"questionType": kind}
        if kind == "free_text":
            body["question"] = self.rng.choice(_FREE_TEXT)
        elif kind == "choice":
            text, choices = self.rng.choice(_CHOICES)
            body |= {"question": text, "choices": choices}
        else:
            body["question"] = self.rng.choice(_CONFIRMATIONS)
        asked = await self._expect("POST", f"/contracts/{work.contract_id}/questions", json=body)
        work.state, work.activity, work.waiting = "waiting_for_user", "waiting for an answer", True
        while not self.stop.is_set():
            # Long polls scale with the tick, so a fast simulation stops promptly too.
            params = {"wait": max(1, min(LONG_POLL_SECONDS, round(self.tick * 10)))}
            question = await self.api.call("GET", f"/questions/{asked['id']}", params=params)
            if question is None:
                await self._check_alive(work)
                await self.pause(1)
            elif question["status"] != "pending":
                log.info("simulator: question %s %s", asked["id"], question["status"])
                break
        work.state, work.waiting = "working", False

    async def _blocked(self, work: Work) -> None:
        path = f"/contracts/{work.contract_id}/status"
        blocker = self.rng.choice(_BLOCKERS)
        if await self.api.call("POST", path, json={"targetStatus": "blocked", "blocker": blocker}):
            work.state, work.activity = "blocked", blocker
            await self.pause(3)
            await self.api.call("POST", path, json={"targetStatus": "active"})
            work.state = "working"

    async def _advance(self, work: Work, target: str) -> None:
        """Move to `target`: auto-advanced already, or request it and wait for a reviewer."""
        contract = await self._expect("GET", f"/contracts/{work.contract_id}")
        if contract["phase"] != target and contract.get("waitingFor") != "phase_confirmation":
            await self._expect(
                "POST", f"/contracts/{work.contract_id}/phase", json={"phase": target}
            )
        work.state, work.activity = "waiting_for_user", f"waiting for approval of {target}"
        while not self.stop.is_set():
            contract = await self._expect("GET", f"/contracts/{work.contract_id}")
            if contract["phase"] == target:
                break
            work.waiting = contract["status"] == "waiting_for_input"
            if contract["status"] in ("failed", "archived", "completed", "completing"):
                raise Gone(f"contract is {contract['status']}")
            if contract["status"] == "active" and contract.get("waitingFor") is None:
                # A reviewer asked for changes: pick the feedback up, redo the deliverable,
                # then ask again.
                work.waiting = False
                await self._rework(work, contract.get("feedback") or [])
                # Redoing the deliverable may have made the server ask already.
                contract = await self._expect("GET", f"/contracts/{work.contract_id}")
                if contract.get("waitingFor") != "phase_confirmation":
                    await self.api.call(
                        "POST", f"/contracts/{work.contract_id}/phase", json={"phase": target}
                    )
                work.state = "waiting_for_user"
            await self.pause(1)
        work.phase, work.waiting, work.state = target, False, "working"
        await self._save_state(work)

    async def _rework(self, work: Work, thread: list[dict[str, Any]]) -> None:
        """Acknowledge each feedback not picked up yet, then redo the phase's deliverable
        with a summary that answers it (a phase without one gets a task of work instead)."""
        fresh = [f for f in thread if f.get("delivery") == "not_yet_picked_up"]
        for entry in fresh:
            path = f"/contracts/{work.contract_id}/feedback/{entry['id']}/ack"
            await self.api.call("POST", path)
        work.activity = "reworking after feedback" if fresh else work.activity
        await self.pause(1)
        deliverable = DELIVERABLES.get(work.contract_type, {}).get(work.phase)
        if deliverable is None:
            await self._task(work)
            return
        evidence = deliverable_evidence(deliverable, work.contract_id, self.rng)
        asked = "; ".join(str(f.get("feedback")) for f in fresh) or "another pass"
        evidence["summary"] = evidence.get("summary", "") + f"\n\nReworked after feedback: {asked}"
        await self.api.call(
            "POST",
            f"/contracts/{work.contract_id}/deliverables",
            json={"deliverableId": deliverable, "phase": work.phase, **evidence},
        )

    async def _finish(self, work: Work) -> None:
        work.activity, work.progress = "finishing", 100
        for _ in range(3):
            contract = await self._expect("GET", f"/contracts/{work.contract_id}")
            if contract["status"] in ("completing", "completed"):
                work.state = "completed"
                await self._heartbeat(work)
                return
            await self.pause(1)
        log.info("simulator: %s done, left %s", work.contract_id, contract["status"])

    async def _fail(self, work: Work) -> None:
        reason = self.rng.choice(_FAILURES)
        await self._task(work, failing=True)
        work.state = "failed"
        path = f"/contracts/{work.contract_id}/status"
        await self.api.call("POST", path, json={"targetStatus": "failed", "reason": reason})
        await self._heartbeat(work)

    async def _heartbeats(self, work: Work) -> None:
        while True:
            await self._heartbeat(work)
            await asyncio.sleep(work.beat_every)

    async def _heartbeat(self, work: Work) -> None:
        await send_heartbeat(self.api, work)

    async def _save_state(self, work: Work) -> None:
        now = _now()
        state = {"state": "working", "phase": work.phase, "createdAt": now, "updatedAt": now}
        await self.api.call("PUT", f"/contracts/{work.contract_id}/supervisor/state", json=state)

    async def _expect(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call that must succeed: retried a few times, then the contract is given up."""
        for attempt in range(3):
            answer = await self.api.call(method, path, **kwargs)
            if answer is not None:
                return answer
            if attempt < 2:
                await self.pause(1)
        raise Gone(f"{method} {path} keeps failing: {self.api.last_error}")

    async def _check_alive(self, work: Work) -> None:
        contract = await self.api.call("GET", f"/contracts/{work.contract_id}")
        if contract is not None and contract["status"] in ("failed", "archived", "completed"):
            raise Gone(f"contract is {contract['status']}")


async def send_heartbeat(api: Api, work: Work) -> None:
    """One heartbeat of `work`'s supervisor, with the worktrees its daemon holds for it."""
    body = {
        "task_id": work.task_id,
        "state": work.state,
        "phase": work.phase,
        "current_activity": work.activity,
        "progress": work.progress,
        "worktrees": list(work.worktrees),
    }
    path = f"/contracts/{work.contract_id}/supervisor/heartbeat"
    if await api.call("POST", path, json=body) is not None:
        work.beats += 1


def _now() -> str:
    return iso(SystemClock().now()) or ""


def _client(api_url: str, key: str) -> httpx.AsyncClient:
    base = api_url.rstrip("/")
    if not base.endswith("/api/v1"):
        base += "/api/v1"
    return httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {key}"},
        timeout=httpx.Timeout(10.0, read=LONG_POLL_SECONDS + 15.0),
    )


async def simulate(
    api_url: str,
    api_key: str,
    supervisors: int,
    *,
    stop: asyncio.Event | None = None,
    seed: int | None = None,
    tick: float = 2.0,
    supervisor_key: str | None = None,
    max_waiting: int | None = None,
    archive_after: float = ARCHIVE_AFTER_TICKS,
) -> None:
    """Run `supervisors` simulated supervisors against the server at `api_url` until `stop`.

    `api_key` is an admin or reviewer key of the owner (it creates the contracts);
    `supervisor_key` (default: the same key) drives them. At most `max_waiting` contracts
    (default: two per supervisor) wait on the reviewer at once; finished ones are archived
    `archive_after` ticks later. Never returns on its own without `stop`; cancelling it is
    fine too.
    """
    stop = stop or asyncio.Event()
    tick = max(tick, 0.01)  # a zero tick would spin
    rng = random.Random(seed)
    attention = Attention(max(1, max_waiting if max_waiting is not None else 2 * supervisors))
    async with contextlib.AsyncExitStack() as stack:
        human = await stack.enter_async_context(_client(api_url, api_key))
        driver = human
        if supervisor_key and supervisor_key != api_key:
            driver = await stack.enter_async_context(_client(api_url, supervisor_key))
        api = Api(human, driver)
        daemon = Daemon(api, tick, stop)
        sims = [
            SimulatedSupervisor(
                i, api, random.Random(rng.random()), tick, stop, attention=attention, daemon=daemon
            )
            for i in range(supervisors)
        ]
        log.info("simulator: %d supervisors against %s", supervisors, api_url)
        await asyncio.gather(
            housekeeping(api, tick, stop, archive_after),
            daemon.run(),
            *(s.run() for s in sims),
        )
