"""End to end in a real browser: JupyterLab + Debian's Chromium drive the real lessons.

1. 00_start.ipynb: the quiz widget renders; the learner asks for a hint ("Podpowiedź"),
   answers wrong (red ✗ and a hint, no explanation), then right (green ✓ and the
   explanation); the dashboard (show_progress) lists the question as wrong at first try
   with 2 attempts and 1 hint; after a page reload with a fresh kernel the stored answer is
   shown again.
2. The lesson with FreezeLab (02_kluczowe_pojecia.ipynb): moving the slider with the
   keyboard changes the trainable-parameter count on the page, and after "Zastosuj" it is
   the number the kernel's count_params(model).trainable reports.

Skipped only when /usr/bin/chromium is missing and COURSE_REQUIRE_BROWSER is not set.
Screenshots of every step: the folder printed at the end of the run (and in failures).
"""
import re
import time

import pytest
from browser_support import (
    LabPage,
    StepFailed,
    lesson_questions,
    load_question,
    numbers,
    progress_events,
    progress_records,
    squash,
)

QUIZ_LESSON = "00_start.ipynb"
FREEZE_LESSONS = ("02_kluczowe_pojecia.ipynb", "06_fine_tuning.ipynb")  # first one that exists
QUIZ_CALL = r"""\bquiz\(\s*["']([^"']+)["']\s*\)"""
PROGRESS_CALL = r"\bshow_progress\(\s*\)"
GREEN, RED = "rgb(26, 127, 55)", "rgb(198, 40, 40)"  # course_utils.quiz.widget GREEN / RED
FREEZE_CALL = r"\bFreezeLab\(\s*(?:model\s*=\s*)?([A-Za-z_]\w*)"
# How long a click may take to come back from the kernel: generous, the CPU may be shared
# (a shared 2-core machine once needed more than 20 s at a load average of 12).
CLICK_WAIT_S = 60


@pytest.fixture
def lab(browser_lab):
    """The session's private JupyterLab and Chromium (tests/conftest.py)."""
    return browser_lab


def quiz_scenario(lab, notebook):
    """Wrong answer -> ✗ + explanation, right answer -> ✓, reload + fresh kernel -> stored ✓."""
    from course_utils.messages import t

    page = LabPage(lab.browser, lab.server, lab.shots, "quiz")
    try:
        with page.step(f"open {notebook}"):
            page.open_notebook(notebook)

        with page.step("find the quiz cell"):
            index, q = None, None
            for i, cell in enumerate(page.state()["cells"]):
                match = re.search(QUIZ_CALL, cell["source"]) if cell["type"] == "code" else None
                if match and load_question(match.group(1))["type"] in ("single", "truefalse", "multiple"):
                    index, q = i, load_question(match.group(1))
                    break
            assert index is not None, (f"{notebook} has no code cell calling quiz(\"<id>\") with a "
                                       f"single/multiple/true-false question")
            if q["type"] == "truefalse":
                labels, right = [t("quiz.true"), t("quiz.false")], [0 if q["answer"] else 1]
            else:
                labels = q["options"]
                right = sorted(q["answer"]) if q["type"] == "multiple" else [q["answer"]]
            wrong = [next(i for i in range(len(labels)) if i not in right)]
            role = "checkbox" if q["type"] == "multiple" else "radio"

        def choose(widget, chosen):
            for i, label in enumerate(labels):
                if role == "radio" and i not in chosen:
                    continue
                box = widget.get_by_role(role, name=label, exact=True)
                try:  # a real click on the control, like a learner
                    box.set_checked(i in chosen, timeout=10_000)
                except Exception as exc:
                    detail = str(exc).splitlines()
                    covered = [line.strip() for line in detail if "intercepts pointer events" in line]
                    raise StepFailed(
                        f"cannot click the {role} of option {i + 1} ({label!r}): "
                        + (f"another element covers it ({covered[-1]}); long option texts "
                           f"overlapping the next option?" if covered else detail[0])) from None

        def check(widget, sign):
            widget.get_by_role("button", name=t("quiz.check_button")).click()
            feedback = widget.locator(".course-quiz-feedback")
            try:
                feedback.filter(has_text=sign).wait_for(timeout=CLICK_WAIT_S * 1000)
            except Exception:
                raise StepFailed(f"{CLICK_WAIT_S} s after clicking {t('quiz.check_button')!r} the feedback area shows "
                                 f"{squash(feedback.inner_text())!r}, expected {sign} "
                                 f"(the button's click does not reach the kernel?)") from None
            return squash(feedback.inner_text())

        def colour(widget):
            return widget.locator(".course-quiz-feedback .course-quiz-box").evaluate(
                "e => getComputedStyle(e).color")

        with page.step(f"run the cell quiz({q['id']!r}) and the cells above"):
            widget = page.run_up_to(index, ".course-quiz")

        with page.step("ask for a hint before answering"):
            widget.get_by_role("button", name=t("quiz.hint_button")).click()  # the icon adds a glyph to the name
            hints = widget.locator(".course-quiz-hints")
            try:
                hints.filter(has_text=squash(q["hints"][0])).wait_for(timeout=CLICK_WAIT_S * 1000)
            except Exception:
                raise StepFailed(f"after clicking {t('quiz.hint_button')!r} the hint area shows "
                                 f"{squash(hints.inner_text())!r}, expected the first hint "
                                 f"{q['hints'][0]!r}") from None

        with page.step("wrong answer"):
            choose(widget, wrong)
            text = check(widget, "✗")
            assert "✓" not in text, f"a wrong answer got ✓: {text!r}"
            assert squash(q["explanation"]) not in text, f"a wrong answer shows the explanation: {text!r}"
            assert colour(widget) == RED, f"the ✗ feedback is coloured {colour(widget)}, expected red {RED}"
            show = widget.get_by_role("button", name=t("quiz.show_button"))
            assert show.is_visible(), f"no {t('quiz.show_button')!r} button after a wrong answer"

        with page.step("right answer"):
            choose(widget, right)
            text = check(widget, "✓")
            assert "✗" not in text, f"the right answer still shows ✗: {text!r}"
            assert squash(q["explanation"]) in text, f"feedback lacks the explanation: {text!r}"
            assert colour(widget) == GREEN, f"the ✓ feedback is coloured {colour(widget)}, expected green {GREEN}"

        with page.step("answers and the hint stored in the progress file"):
            records = progress_records(lab.server.progress_file, q["id"])
            assert [r["correct"] for r in records] == [False, True], (
                f"{lab.server.progress_file} holds {records!r} for {q['id']}, expected one wrong, then one right")
            hint_events = [e for e in progress_events(lab.server.progress_file, q["id"]) if e["event"] == "hint"]
            assert len(hint_events) == 1, f"expected one stored hint for {q['id']}, found {hint_events!r}"

        with page.step("the dashboard: wrong at first try, 2 attempts"):
            progress_index, _ = page.cell_index(PROGRESS_CALL)
            assert progress_index > index, f"show_progress() (cell {progress_index}) comes before the quiz"
            report = page.run_up_to(progress_index, ".course-progress")
            report.locator("summary").click()  # "the questions answered so far", folded
            row = report.locator(".course-progress-questions tbody tr", has_text=q["id"])
            row.wait_for(timeout=10_000)
            cells = [squash(c) for c in row.locator("td").all_inner_texts()]
            expected = [q["id"], t("progress.first_bad"), "2", "1", t("progress.no")]
            assert cells == expected, f"the dashboard's row for {q['id']} is {cells}, expected {expected}"
            lesson = report.locator(".course-progress-lessons tbody tr", has_text=q["id"][:2] + "_")
            lesson_cells = [squash(c) for c in lesson.first.locator("td").all_inner_texts()]
            n = len(lesson_questions(notebook))
            assert lesson_cells[2:6] == [f"0/{n}", "0%", "2", "1"], (
                f"the dashboard's lesson row is {lesson_cells}, expected 0/{n} right at first try, "
                f"0%, 2 attempts, 1 hint")

        with page.step("reload the page with a fresh kernel and re-run the quiz cell"):
            lab.server.shutdown_kernels()
            page.reload()
            widget = page.run_up_to(index, ".course-quiz")
            text = squash(widget.locator(".course-quiz-feedback").inner_text())
            assert "✓" in text and "✗" not in text, f"after reload the stored answer is not shown: {text!r}"
            for i, label in enumerate(labels):
                box = widget.get_by_role(role, name=label, exact=True)
                assert box.is_checked() == (i in right), (
                    f"after reload option {i + 1} ({label[:40]!r}) is "
                    f"{'checked' if box.is_checked() else 'not checked'}; stored answer: {right}")
    finally:
        page.close()


def freeze_scenario(lab, notebook):
    """Slider moved with the keyboard -> count changes -> after 'Zastosuj' it equals the kernel's."""
    page = LabPage(lab.browser, lab.server, lab.shots, "freeze")
    try:
        with page.step(f"open {notebook}"):
            page.open_notebook(notebook)

        with page.step("find the FreezeLab cell"):
            index, source = page.cell_index(FREEZE_CALL)
            model_var = re.search(FREEZE_CALL, source).group(1)
            code = (f"import course_utils.model as _cu_m\n"
                    f"print(_cu_m.count_params({model_var}).trainable)\ndel _cu_m")

        def kernel_trainable():
            out = page.kernel_print(code)
            assert out.isdigit(), f"the kernel printed {out!r} for count_params({model_var}).trainable"
            return int(out)

        with page.step("run the FreezeLab cell and the cells above"):
            widget = page.run_up_to(index, ".freeze-lab")
            label = widget.locator(".freeze-lab-trainable-count")
            slider = widget.locator(".freeze-lab-slider").get_by_role("slider")
            label.wait_for()
            before = numbers(label.inner_text())
            k0 = kernel_trainable()
            assert k0 in before, (f"at start the page shows {label.inner_text()!r}, "
                                  f"the kernel's count_params({model_var}).trainable is {k0}")

        with page.step("move the slider with the keyboard"):
            slider.focus()
            v0, vmax = (int(float(slider.get_attribute(a))) for a in ("aria-valuenow", "aria-valuemax"))
            slider.press("End" if v0 < vmax else "Home")
            deadline = time.monotonic() + 20
            while numbers(label.inner_text()) == before:
                if time.monotonic() > deadline:
                    raise StepFailed(f"slider moved from {v0} to {slider.get_attribute('aria-valuenow')} "
                                     f"but the count stayed {label.inner_text()!r}")
                time.sleep(0.3)
            moved_to = int(float(slider.get_attribute("aria-valuenow")))
            label.scroll_into_view_if_needed()
            assert moved_to != v0, f"the slider handle did not move (still {v0})"

        with page.step("apply and compare with the kernel"):
            apply = widget.locator(".freeze-lab-apply")
            if apply.count():
                apply.click()
            deadline = time.monotonic() + 30
            while True:
                shown, kernel = numbers(label.inner_text()), kernel_trainable()
                if kernel in shown and kernel != k0 and shown != before:
                    break
                if time.monotonic() > deadline:
                    raise StepFailed(f"slider at {moved_to}: the page shows {label.inner_text()!r}, "
                                     f"the kernel's count_params({model_var}).trainable is {kernel} "
                                     f"(was {k0}, page was {before})")
                time.sleep(0.5)
    finally:
        page.close()


def test_quiz_in_browser(lab):
    """The quiz of 00_start teaches in JupyterLab (hint, retry), scores the first try, remembers."""
    notebook = lab.server.root / QUIZ_LESSON
    assert notebook.exists(), f"notebooks/{QUIZ_LESSON} is missing"
    quiz_scenario(lab, QUIZ_LESSON)


def test_freeze_lab_in_browser(lab):
    """FreezeLab's slider changes the trainable-parameter count to the kernel's value."""
    lessons = [name for name in FREEZE_LESSONS if (lab.server.root / name).exists()
               and "FreezeLab(" in (lab.server.root / name).read_text(encoding="utf-8")]
    assert lessons, f"no lesson of {FREEZE_LESSONS} calls FreezeLab(model, base)"
    freeze_scenario(lab, lessons[0])
