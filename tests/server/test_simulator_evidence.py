"""The simulator's deliverables carry evidence a reviewer can read: a URL and a Markdown
summary, kept on the contract and in its history (in-process server with the full app)."""

from __future__ import annotations

import asyncio
import random

import httpx

from core.config import ContractTimeoutConfig
from core.evidence import check_note
from server.app import create_app
from server.simulator import DELIVERABLES, simulate
from server.simulator_parts import deliverable_evidence
from tests.server.harness import LiveServer, context_on, make_key, sqlite_url

__all__ = ["sqlite_url"]


def test_every_built_in_deliverable_has_valid_evidence() -> None:
    rng = random.Random(3)
    for phases in DELIVERABLES.values():
        for deliverable in phases.values():
            evidence = deliverable_evidence(deliverable, "0123456789abcdef", rng)
            url, summary = check_note(evidence["url"], evidence["summary"])
            assert url and url.split(":")[0] in ("https", "file")
            assert summary is not None and summary.startswith("## ")
            assert any(line.startswith(("- ", "1. ")) for line in summary.splitlines())


async def test_the_demo_attaches_summaries_and_urls(sqlite_url: str) -> None:
    async with context_on(sqlite_url, config=ContractTimeoutConfig()) as ctx:
        admin = await make_key(ctx, "demo", "admin")
        supervisor = await make_key(ctx, "demo", "supervisor")
        reviewer = await make_key(ctx, "demo", "reviewer")
        async with LiveServer(create_app(ctx), lifespan="on") as live:
            stop = asyncio.Event()
            running = asyncio.create_task(
                simulate(
                    live.url, admin, 2, stop=stop, seed=11, tick=0.05, supervisor_key=supervisor
                )
            )
            headers = {"Authorization": f"Bearer {reviewer}"}
            async with httpx.AsyncClient(base_url=live.url + "/api/v1", headers=headers) as api:
                try:
                    delivered = await _first_delivery(api)
                finally:
                    stop.set()
                    await asyncio.wait_for(running, 10)
                assert delivered["url"].startswith(("https://", "file://"))
                assert delivered["summary"].startswith("## ")
                contract = (await api.get(f"/contracts/{delivered['contract_id']}")).json()
                notes = contract["deliverableNotes"][delivered["phase"]]
                assert notes[delivered["deliverable_id"]]["summary"] == delivered["summary"]


async def _first_delivery(api: httpx.AsyncClient) -> dict[str, str]:
    async with asyncio.timeout(60):
        while True:
            page = (await api.get("/events", params={"limit": 1000})).json()
            for event in page["events"]:
                if event["type"] == "deliverable_completed":
                    return dict(event)
            await asyncio.sleep(0.2)
