"""In a real browser: a learner fills in an exercise cell in JupyterLab, runs it and sees ✓.

Lesson 04 as shipped: the cells above the pooling exercise run, the exercise cell says
"not done yet" (✗), then the learner clicks into its editor, replaces the code with the
reference solution typed through the keyboard, presses Shift+Enter and sees ✓. The progress
file then holds one wrong and one right attempt of that exercise, kind "exercise".

Skipped only when /usr/bin/chromium is missing and COURSE_REQUIRE_BROWSER is not set.
"""
import json

import pytest
from browser_support import LabPage, StepFailed, squash

LESSON = "04_glowa_klasyfikatora.ipynb"
EXERCISE = "04-pooling"


@pytest.fixture
def lab(browser_lab):
    """The session's private JupyterLab and Chromium (tests/conftest.py)."""
    return browser_lab


def exercise_cell_index(path, exercise_id):
    """Index of the cell whose metadata names the exercise (as stored in the notebook file)."""
    cells = json.loads(path.read_text("utf-8"))["cells"]
    found = [i for i, c in enumerate(cells) if c.get("metadata", {}).get("exercise") == exercise_id]
    assert len(found) == 1, f"{path.name}: {len(found)} cells with metadata exercise={exercise_id!r}"
    return found[0]


def output_text(page, index):
    return squash(page.cell(index).locator(".jp-OutputArea").inner_text(timeout=10_000))


def test_learner_solves_an_exercise_in_the_browser(lab):
    from course_utils.exercises import get_exercise
    from course_utils.messages import t

    spec = get_exercise(EXERCISE)
    index = exercise_cell_index(lab.server.root / LESSON, EXERCISE)
    page = LabPage(lab.browser, lab.server, lab.shots, "exercise")
    try:
        with page.step(f"open {LESSON}"):
            page.open_notebook(LESSON)
            source = page.state()["cells"][index]["source"]
            assert "____" in source and f".check({spec['function']}" in source, source

        with page.step("run the shipped exercise cell: not done yet"):
            page.run_up_to(index, f"text={t('exercise.not_done')[:20]}")
            text = output_text(page, index)
            assert "✗" in text and "✓" not in text, text
            assert squash(spec["hints"][0]) in text, text

        with page.step("type the solution into the cell"):
            editor = page.cell(index).locator(".cm-content")
            editor.click()
            page.page.keyboard.press("Control+A")
            page.page.keyboard.press("Delete")
            page.page.keyboard.insert_text(spec["solution"])
            typed = page.state()["cells"][index]["source"]
            if typed.strip() != spec["solution"].strip():
                raise StepFailed(f"the cell holds {typed!r} after typing, expected the solution")

        with page.step("Shift+Enter shows ✓"):
            before = page.state()["cells"][index]["count"]
            page.page.keyboard.press("Shift+Enter")
            page.wait_for(lambda s: s["cells"][index]["count"] not in (None, before)
                          and s["kernel"] == "idle", 120, "the exercise cell to run again")
            ok = page.cell(index).locator(".jp-OutputArea").get_by_text("✓ Dobrze!")
            ok.wait_for(state="visible", timeout=20_000)
            text = output_text(page, index)
            assert "✗" not in text, text
            assert t("check.pool_ok") in text, text

        with page.step("the progress file holds ✗ then ✓ for the exercise"):
            stored = json.loads(lab.server.progress_file.read_text("utf-8"))
            attempts = [(a["correct"], a.get("kind")) for a in stored["answers"] if a["id"] == EXERCISE]
            assert attempts == [(False, "exercise"), (True, "exercise")], attempts
    finally:
        page.close()
