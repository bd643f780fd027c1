"""Progress file: records, atomic writes, two writers at once, corrupt files, reset, report."""
import json
import re
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from course_utils import progress
from course_utils.errors import CourseError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def progress_file(tmp_path, monkeypatch):
    """A private progress file for every test."""
    path = tmp_path / "state" / "progress.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(path))
    return path


def test_record_is_stored_with_all_fields(progress_file):
    progress.record("00-a", "00_start", 1, True)
    progress.record("00-a", "00_start", 2, False)
    data = json.loads(progress_file.read_text(encoding="utf-8"))
    assert [r["answer"] for r in data["answers"]] == [1, 2]
    first = data["answers"][0]
    assert (first["id"], first["lesson"], first["correct"]) == ("00-a", "00_start", True)
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert progress.last_answer("00-a")["answer"] == 2
    assert progress.last_answer("00-zz") is None


def test_record_kinds_and_events_share_the_file(progress_file):
    progress.record("03-load-base", "03_model_bazowy", "Functional 'model'", False, kind="exercise")
    progress.record("08-p1-open", "08_pytania", {"text": "t", "covered": [0]}, False, kind="open")
    progress.record_event("03-load-base", "03_model_bazowy", "hint")
    progress.record_event("00-a", "00_start", "solution")
    data = json.loads(progress_file.read_text(encoding="utf-8"))
    assert [r["kind"] for r in data["answers"]] == ["exercise", "open"]
    assert data["answers"][1]["answer"] == {"text": "t", "covered": [0]}
    assert [(e["id"], e["lesson"], e["event"]) for e in data["events"]] == [
        ("03-load-base", "03_model_bazowy", "hint"), ("00-a", "00_start", "solution")]
    assert datetime.fromisoformat(data["events"][0]["time"]).tzinfo is not None
    answers, events = progress.load_all()
    assert len(answers) == 2 and events == progress.load_events() == data["events"]
    with pytest.raises(ValueError):
        progress.record("00-a", "00_start", 1, True, kind="exam")
    with pytest.raises(ValueError):
        progress.record_event("00-a", "00_start", "peek")
    assert len(progress.load_events()) == 2  # a bad call stored nothing


def test_a_file_from_before_events_is_read_and_extended(progress_file):
    old = {"version": 1, "answers": [{"id": "00-a", "lesson": "00_start", "answer": 1,
                                      "correct": True, "time": "2026-11-01T10:00:00+01:00"}]}
    progress_file.parent.mkdir(parents=True)
    progress_file.write_text(json.dumps(old), encoding="utf-8")
    assert progress.load_events() == []
    assert progress.load_answers() == old["answers"]
    progress.record_event("00-a", "00_start", "hint")
    data = json.loads(progress_file.read_text(encoding="utf-8"))
    assert data["answers"] == old["answers"] and len(data["events"]) == 1
    assert not list(progress_file.parent.glob("progress.json.corrupt-*"))


def test_writes_leave_no_temporary_files(progress_file):
    for i in range(5):
        progress.record(f"00-q{i}", "00_start", i, True)
    leftovers = [p.name for p in progress_file.parent.iterdir()
                 if p.name not in ("progress.json", "progress.json.lock")]
    assert leftovers == []


WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from course_utils import progress
    go = Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.01)
    for i in range(100):
        progress.record(f"p{sys.argv[1]}-{i}", "00_start", i, i % 2 == 0)
""")


def test_two_processes_lose_no_answer(progress_file, tmp_path, monkeypatch):
    go = tmp_path / "go"
    env = {**__import__("os").environ, "COURSE_PROGRESS_FILE": str(progress_file)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(k), str(go)], cwd=REPO, env=env,
                              stderr=subprocess.PIPE, text=True) for k in (1, 2)]
    go.touch()  # both start writing at the same moment
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    ids = [r["id"] for r in json.loads(progress_file.read_text(encoding="utf-8"))["answers"]]
    assert len(ids) == 200
    assert set(ids) == {f"p{k}-{i}" for k in (1, 2) for i in range(100)}


@pytest.mark.parametrize("garbage", ['{"answers": [{"id": "00-a", "corr', "[1, 2, 3]", "\udcff"])
def test_corrupt_file_is_moved_aside_with_a_warning(progress_file, capsys, garbage):
    progress_file.parent.mkdir(parents=True)
    progress_file.write_bytes(garbage.encode("utf-8", "surrogateescape"))
    assert progress.load_answers() == []
    backups = list(progress_file.parent.glob("progress.json.corrupt-*"))
    assert len(backups) == 1
    assert backups[0].read_bytes() == garbage.encode("utf-8", "surrogateescape")  # nothing lost
    err = capsys.readouterr().err
    assert str(backups[0]) in err and "uszkodzony" in err
    progress.record("00-a", "00_start", 0, True)  # a fresh file works again
    assert [r["id"] for r in progress.load_answers()] == ["00-a"]


def test_unwritable_location_gives_one_polish_line(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(blocker / "progress.json"))
    with pytest.raises(CourseError, match="COURSE_PROGRESS_FILE") as info:
        progress.record("00-a", "00_start", 0, True)
    assert "\n" not in str(info.value)


def test_reset_without_confirmation_changes_nothing(progress_file, capsys):
    progress.record("00-a", "00_start", 0, True)
    assert progress.reset_progress() is None
    assert "reset_progress(confirm=True)" in capsys.readouterr().out
    assert len(progress.load_answers()) == 1


def test_reset_with_confirmation_keeps_a_backup(progress_file, capsys):
    progress.record("00-a", "00_start", 0, True)
    before = progress_file.read_text(encoding="utf-8")
    progress.reset_progress(confirm=True)
    backups = list(progress_file.parent.glob("progress.json.reset-*"))
    assert len(backups) == 1 and backups[0].read_text(encoding="utf-8") == before
    assert str(backups[0]) in capsys.readouterr().out
    assert progress.load_answers() == []
    progress.reset_progress(confirm=True)
    assert "nie ma czego czyścić" in capsys.readouterr().out


def test_reset_prompt_buttons(progress_file, monkeypatch):
    progress.record("00-a", "00_start", 0, True)
    monkeypatch.setattr(progress, "in_ipython", lambda: True)
    prompt = progress.reset_progress()
    assert isinstance(prompt, progress.ResetPrompt)
    assert "reset_progress(confirm=True)" in prompt._repr_mimebundle_()["text/plain"]
    assert "course-reset" in prompt._dom_classes
    prompt.no.click()
    assert "Anulowano" in prompt.message.value and len(progress.load_answers()) == 1
    prompt = progress.reset_progress()
    prompt.yes.click()
    assert "kopia zapasowa" in prompt.message.value and prompt.yes.disabled
    assert progress.load_answers() == []
    assert list(progress_file.parent.glob("progress.json.reset-*"))


BANK = {
    "00-a": {"id": "00-a", "lesson": "00_start", "title": "Start"},
    "00-b": {"id": "00-b", "lesson": "00_start", "title": "Start"},
    "00-c": {"id": "00-c", "lesson": "00_start", "title": "Start"},
    "01-a": {"id": "01-a", "lesson": "01_features", "title": "Cechy"},
}

# What a learner did, question by question: the answers' grades in order, then hints and
# solutions shown (with the minute they were shown, answers are at minute 10, 11, ...).
SCENARIO = {
    "00-a": {"grades": [False, True], "hints": [1], "solutions": []},      # hint, wrong, right
    "00-b": {"grades": [True], "hints": [], "solutions": []},             # right at once
    "00-c": {"grades": [True], "hints": [], "solutions": [5]},            # answer peeked first
    "01-a": {"grades": [], "hints": [2, 3], "solutions": []},             # only hints
}
EXERCISES = {"03_model": ["03-load", "03-freeze"], "00_start": ["00-ex"]}
SOLVED_EXERCISES = {"03-load"}


def write_scenario(path):
    """The progress file of SCENARIO written by hand, in the stored format."""
    def at(minute):
        return f"2026-12-01T10:{minute:02d}:00+00:00"
    answers, events = [], []
    for qid, s in SCENARIO.items():
        lesson = BANK[qid]["lesson"]
        answers += [{"id": qid, "lesson": lesson, "kind": "quiz", "answer": 0, "correct": g,
                     "time": at(10 + k)} for k, g in enumerate(s["grades"])]
        events += [{"id": qid, "lesson": lesson, "event": "hint", "time": at(m)} for m in s["hints"]]
        events += [{"id": qid, "lesson": lesson, "event": "solution", "time": at(m)} for m in s["solutions"]]
    for lesson, ids in EXERCISES.items():
        for ex in ids:  # one wrong check each, a right one for the solved ones, one hint each
            answers.append({"id": ex, "lesson": lesson, "kind": "exercise", "answer": "x",
                            "correct": False, "time": at(30)})
            events.append({"id": ex, "lesson": lesson, "event": "hint", "time": at(31)})
            if ex in SOLVED_EXERCISES:
                answers.append({"id": ex, "lesson": lesson, "kind": "exercise", "answer": "y",
                                "correct": True, "time": at(32)})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "answers": answers, "events": events}), encoding="utf-8")


def write_exercises(folder):
    folder.mkdir()
    for lesson, ids in EXERCISES.items():
        (folder / f"{lesson}.json").write_text(json.dumps(
            {"lesson": lesson, "title": "T", "exercises": [{"id": i} for i in ids]}), encoding="utf-8")


def test_dashboard_counts_first_tries_attempts_hints_solutions_and_exercises(progress_file, tmp_path):
    from course_utils.quiz import dashboard
    write_scenario(progress_file)
    write_exercises(tmp_path / "exercises")
    answers, events = progress.load_all()
    report = dashboard.build_report(BANK, answers, events, dashboard.load_exercises(tmp_path / "exercises"))
    rows = {r["lesson"]: r for r in report.rows}
    for lesson in ("00_start", "01_features", "03_model"):  # counted here, independently
        qids = [q for q in BANK if BANK[q]["lesson"] == lesson]
        first = [q for q in qids if SCENARIO[q]["grades"][:1] == [True]
                 and not any(m < 10 for m in SCENARIO[q]["solutions"])]
        ex = EXERCISES.get(lesson, [])
        expected = {"total": len(qids), "first_try": len(first),
                    "attempts": sum(len(SCENARIO[q]["grades"]) for q in qids),
                    "hints": sum(len(SCENARIO[q]["hints"]) for q in qids) + len(ex),
                    "solutions": sum(len(SCENARIO[q]["solutions"]) for q in qids),
                    "exercises_total": len(ex), "exercises_solved": len(set(ex) & SOLVED_EXERCISES)}
        assert {k: rows[lesson][k] for k in expected} == expected, lesson
    assert (rows["00_start"]["first_try"], rows["00_start"]["percent"]) == (1, 33)  # only 00-b
    assert report.unanswered == ["01-a"]
    by_id = {q["id"]: q for q in report.questions}
    assert (by_id["00-a"]["first"], by_id["00-a"]["attempts"], by_id["00-a"]["hints"]) == (False, 2, 1)
    assert by_id["00-c"]["first"] is False and by_id["00-c"]["solutions"] == 1
    assert by_id["01-a"]["first"] is None and by_id["01-a"]["hints"] == 2
    text = report.text
    assert "1/3" in text and "33%" in text and "1/2" in text  # 00_start score; 03_model exercises
    assert re.search(r"^00-a +✗ źle +2 +1 +nie$", text, re.M), text  # first try ✗, 2 attempts, 1 hint
    html = report._repr_mimebundle_()["text/html"]
    assert "<table" in html and "data:image/png;base64," in html and "<details" in html
    assert "00_start: 1/3" in html  # the chart's alt text: not colour-only
    bars = {p.get_x(): p.get_height() for p in report.figure.axes[0].patches}
    assert sorted(bars.values()) == [0, 33]  # lessons with questions only


def test_dashboard_without_exercise_files(progress_file, tmp_path, capsys):
    from course_utils.quiz import dashboard
    assert dashboard.load_exercises(tmp_path / "missing") == {}
    (tmp_path / "empty").mkdir()
    assert dashboard.load_exercises(tmp_path / "empty") == {}
    (tmp_path / "empty" / "03_x.json").write_text("{ nie json", encoding="utf-8")
    assert dashboard.load_exercises(tmp_path / "empty") == {}
    assert "03_x.json" in capsys.readouterr().err
    progress.record("00-a", "00_start", 1, True)
    progress.record("00-ex", "00_start", "x", True)  # a quiz-kind answer with an exercise's id
    assert dashboard.lesson_rows(BANK, *progress.load_all(), {"00_start": ["00-ex"]})[0]["exercises_solved"] == 0
    report = dashboard.build_report(BANK, *progress.load_all(), {})
    row = report.rows[0]
    assert (row["first_try"], row["exercises_total"]) == (1, 0) and "—" in report.text


def test_dashboard_reads_a_file_from_before_kinds_and_events(progress_file):
    from course_utils.quiz import dashboard
    progress_file.parent.mkdir(parents=True)
    progress_file.write_text(json.dumps({"version": 1, "answers": [
        {"id": "00-a", "lesson": "00_start", "answer": 1, "correct": False, "time": "2026-11-01T10:00:00+01:00"},
        {"id": "00-a", "lesson": "00_start", "answer": 2, "correct": True, "time": "2026-11-01T10:01:00+01:00"}]}),
        encoding="utf-8")
    report = dashboard.build_report(BANK, *progress.load_all(), {})
    assert (report.rows[0]["first_try"], report.rows[0]["attempts"]) == (0, 2)


def test_show_progress_displays_once_in_ipython(monkeypatch):
    shown = []
    import IPython.display

    from course_utils import quiz as quiz_module
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append(a))
    monkeypatch.setattr(quiz_module, "in_ipython", lambda: True)
    assert quiz_module.show_progress() is None  # no cell result to display a second time
    assert len(shown) == 1 and isinstance(shown[0][0], quiz_module.dashboard.ProgressReport)
    monkeypatch.setattr(quiz_module, "in_ipython", lambda: False)
    assert quiz_module.show_progress().rows  # outside a notebook: printed and returned


