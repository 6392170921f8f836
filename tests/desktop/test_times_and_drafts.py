"""The one time formatter (ages and local times) and the drafts file."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from desktop.drafts import Drafts, answer_key, comment_key, drafts_beside, feedback_key
from desktop.times import age_and_local, age_text, duration_text, local_text

NOW = datetime(2026, 12, 7, 20, 30, tzinfo=UTC)


def test_ages_read_like_a_person_says_them() -> None:
    assert age_text(NOW - timedelta(seconds=2), NOW) == "just now"
    assert age_text(NOW + timedelta(seconds=30), NOW) == "just now"  # another machine's clock
    assert age_text(NOW - timedelta(seconds=42), NOW) == "42 s ago"
    assert age_text(NOW - timedelta(minutes=12, seconds=5), NOW) == "12 min ago"
    assert age_text(NOW - timedelta(hours=2, minutes=5), NOW) == "2 h 5 min ago"
    assert age_text(NOW - timedelta(days=3), NOW) == "3 d ago"
    assert age_text(None, NOW) == ""
    assert duration_text(-5) == "0 s"
    naive = datetime(2026, 12, 7, 20, 18)  # SQLite's naive UTC
    assert age_text(naive, NOW) == "12 min ago"


def test_local_times_are_full_and_local() -> None:
    text = local_text(NOW)
    assert text.startswith(NOW.astimezone().strftime("%Y-%m-%d %H:%M:%S"))
    assert "T" not in text[:19] and not text.endswith("Z")  # not ISO
    assert (
        age_and_local(NOW - timedelta(minutes=3), NOW)
        == f"3 min ago ({local_text(NOW - timedelta(minutes=3))})"
    )
    assert local_text(None) == age_and_local(None) == ""


def test_drafts_are_kept_per_item_written_0600_and_dropped_when_blank(tmp_path: Path) -> None:
    path = drafts_beside(tmp_path / "replica.db")
    assert path.name == "replica.db.drafts.json"
    drafts = Drafts(path)
    drafts.put(answer_key("q1"), "PostgreSQL")
    drafts.put(feedback_key("c1"), "needs a rollback")
    drafts.put(comment_key("c1"), "   ")  # blank: nothing kept
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Drafts(path)  # a restart
    assert again.get(answer_key("q1")) == "PostgreSQL"
    assert again.keys() == [answer_key("q1"), feedback_key("c1")]
    again.drop(answer_key("q1"))
    assert json.loads(path.read_text()) == {feedback_key("c1"): "needs a rollback"}


def test_a_damaged_drafts_file_costs_the_drafts_not_the_app(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text("{not json")
    drafts = Drafts(path)
    assert drafts.keys() == []
    drafts.put(answer_key("q"), "fine")
    assert Drafts(path).get(answer_key("q")) == "fine"
    assert Drafts(None).get("anything") == ""
