"""Quizzes that teach: widgets driven by clicks, hints, retries, first-try scores, open questions, schema."""
import json
import re
import sys

import pytest

from course_utils import checks, progress
from course_utils import quiz as qz
from course_utils.errors import CourseError

REAL_QUIZ_DIR = qz.QUIZ_DIR  # the course's questions (the fixture swaps in a private bank)

LESSON = {
    "lesson": "09_test", "title": "Test",
    "questions": [
        {"id": "09-single", "type": "single", "prompt": "Która baza?",
         "options": ["ResNet", "MobileNetV2", "VGG"], "answer": 1, "keep_order": True,
         "explanation": "Kurs używa MobileNetV2.", "hints": ["Lekka sieć."]},
        {"id": "09-multi", "type": "multiple", "prompt": "Co zamrażamy?",
         "options": ["bazę", "głowę", "BatchNorm"], "answer": [0, 2], "keep_order": True,
         "explanation": "Bazę i BatchNorm.", "hints": ["Dwie."]},
        {"id": "09-tf", "type": "truefalse", "prompt": "Softmax sumuje się do 1?",
         "answer": True, "explanation": "To rozkład prawdopodobieństwa.", "hints": ["Tak."]},
        {"id": "09-num", "type": "numeric", "prompt": "Ile parametrów ma głowa?",
         "answer": 6405, "tolerance": 0, "explanation": "1280 * 5 + 5.", "hints": ["1280*5+5"]},
        {"id": "09-ratio", "type": "numeric", "prompt": "Jaki ułamek?",
         "answer": 0.5, "tolerance": 0.02, "explanation": "Połowa.", "hints": ["1/2"]},
        {"id": "09-code", "type": "code", "prompt": "Zamroź bazę.", "checker": "fake",
         "params": {"expected": 3}, "explanation": "trainable = False.",
         "hints": ["Pierwsza podpowiedź.", "Druga podpowiedź."], "solution": "base.trainable = False"},
        {"id": "09-open", "type": "open", "prompt": "Czym jest transfer learning?",
         "model_answer": "Wykorzystaniem wiedzy z jednego zadania w innym.",
         "key_points": ["wiedza z zadania źródłowego", "nowe zadanie", "mniej danych"],
         "hints": ["Pomyśl o ImageNet."]},
    ],
}


@pytest.fixture(autouse=True)
def setup(tmp_path, monkeypatch):
    """A private progress file and a private question bank with every question type."""
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(tmp_path / "progress.json"))
    bank = tmp_path / "quizzes"
    bank.mkdir()
    (bank / "09_test.json").write_text(json.dumps(LESSON), encoding="utf-8")
    monkeypatch.setattr(qz, "QUIZ_DIR", bank)
    monkeypatch.setattr(qz, "EXERCISE_DIR", tmp_path / "exercises")  # none: the dashboard copes
    monkeypatch.setattr(qz, "in_ipython", lambda: True)  # like a kernel unless a test says not

    def fake(obj, expected):
        if not isinstance(obj, int):
            raise CourseError(f"Oczekiwano liczby, a podano {type(obj).__name__}.")
        return obj == expected, f"dostałem {obj}"
    monkeypatch.setitem(checks.CHECKERS, "fake", fake)
    return bank


def stored():
    """All stored answers."""
    return progress.load_answers()


def test_single_choice_widget_wrong_then_right():
    w = qz.quiz("09-single")
    assert "course-quiz" in w._dom_classes and "course-quiz-check" in w.button._dom_classes
    assert "course-quiz-feedback" in w.feedback._dom_classes
    assert w.show_button.layout.display == "none"  # no answer to show before a first try
    w.input.value = 2
    w.button.click()
    assert w.feedback_text.startswith("✗")
    assert "Kurs używa MobileNetV2." not in w.feedback_text  # no explanation after ✗ ...
    assert "MobileNetV2" not in w.feedback_text  # ... and no right answer
    assert "Podpowiedź 1/1: Lekka sieć." in w.feedback_text and "Spróbuj jeszcze raz" in w.feedback_text
    assert w.show_button.layout.display is None  # now the answer can be asked for
    w.input.value = 1
    w.button.click()
    assert w.feedback_text.startswith("✓") and "Kurs używa MobileNetV2." in w.feedback_text
    assert "✓" in w.feedback.value and "Kurs używa MobileNetV2." in w.feedback.value
    assert "liczy się pierwsza próba" in w.feedback_text and w.show_button.layout.display == "none"
    assert [(r["id"], r["lesson"], r["answer"], r["correct"], r["kind"]) for r in stored()] == [
        ("09-single", "09_test", 2, False, "quiz"), ("09-single", "09_test", 1, True, "quiz")]


def test_right_at_once_then_a_wrong_click_explains_everything():
    w = qz.quiz("09-single")
    w.input.value = 1
    w.button.click()
    assert w.feedback_text.startswith("✓") and "liczy się pierwsza próba" not in w.feedback_text
    w.input.value = 0
    w.button.click()  # the answer is known now: ✗ with the right answer and the explanation
    assert w.feedback_text.startswith("✗") and "Poprawna odpowiedź: 2. MobileNetV2" in w.feedback_text
    assert "Kurs używa MobileNetV2." in w.feedback_text
    assert [r["correct"] for r in stored()] == [True, False]


def test_feedback_colours_green_for_right_red_for_wrong():
    from course_utils.quiz.widget import GREEN, RED
    w = qz.quiz("09-tf")
    w.answer(False)
    assert "course-quiz-wrong" in w.feedback._dom_classes and f"color: {RED}" in w.feedback.value
    assert GREEN not in w.feedback.value
    w.answer(True)
    assert "course-quiz-correct" in w.feedback._dom_classes and "course-quiz-wrong" not in w.feedback._dom_classes
    assert f"color: {GREEN}" in w.feedback.value and RED not in w.feedback.value


def events():
    """All stored hint/solution events as (id, event)."""
    return [(e["id"], e["event"]) for e in progress.load_events()]


def test_hint_button_before_answering_gives_the_next_hint_each_click():
    w = qz.quiz("09-num")  # one hint: "1280*5+5"
    w.hint_button.click()
    assert "Podpowiedź 1/1: 1280*5+5" in w.hint_area.value and stored() == []
    assert events() == [("09-num", "hint")]
    w.hint_button.click()  # no more hints: said so, nothing more recorded
    assert "wszystkie podpowiedzi" in w.hint_area.value and events() == [("09-num", "hint")]
    assert w.feedback_text == ""  # a hint is not an answer


def test_hints_continue_where_the_learner_stopped(setup):
    two = {**LESSON, "questions": [{**LESSON["questions"][0], "id": "09-two",
                                     "hints": ["Pierwsza.", "Druga."]}]}
    (setup / "09_two.json").write_text(json.dumps({**two, "lesson": "09_two"}), encoding="utf-8")
    assert "Podpowiedź 1/2: Pierwsza." in qz.quiz("09-two").hint()
    again = qz.quiz("09-two")  # a rerun of the cell (or quiz(...).hint() in code) goes on
    assert "Pierwsza." in again.hint_area.value  # the hints asked for before are shown again
    assert "Podpowiedź 2/2: Druga." in again.hint()
    assert events() == [("09-two", "hint"), ("09-two", "hint")]
    w = qz.quiz("09-two")
    result = w.answer(1)  # wrong: both hints are used, so the last one is repeated
    assert "Podpowiedź 2/2: Druga." in result.text and "Kurs używa" not in result.text


def test_show_answer_after_a_wrong_try_is_recorded_as_a_solution():
    w = qz.quiz("09-multi")
    text = w.show_answer()  # before any try: refused, nothing recorded
    assert "Najpierw spróbuj odpowiedzieć" in text and events() == []
    w.input.children[0].value = True
    w.button.click()
    assert w.feedback_text.startswith("✗") and "Bazę i BatchNorm." not in w.feedback_text
    w.show_button.click()
    assert "Poprawna odpowiedź: 1. bazę; 3. BatchNorm" in w.feedback_text
    assert "Bazę i BatchNorm." in w.feedback_text and w.show_button.layout.display == "none"
    assert events() == [("09-multi", "solution")]
    again = qz.quiz("09-multi")  # rerun: the answer is known, so a wrong answer is explained
    assert "Bazę i BatchNorm." in again.feedback_text
    assert [r["correct"] for r in stored()] == [False]


def test_first_try_semantics_in_code_match_the_widget():
    w = qz.quiz("09-num")
    first = w.answer(6400)
    assert not first and "1280 * 5 + 5." not in first.text and "6405" not in first.text
    second = qz.quiz("09-num").answer("6 405")  # a new quiz() call, like a learner in code
    assert second and "1280 * 5 + 5." in second.text and "liczy się pierwsza próba" in second.text
    report = qz.progress_report()
    row = next(r for r in report.questions if r["id"] == "09-num")
    assert (row["first"], row["attempts"]) == (False, 2)
    lesson = next(r for r in report.rows if r["lesson"] == "09_test")
    assert (lesson["first_try"], lesson["attempts"], lesson["total"]) == (0, 2, 7)


SHUFFLED = {"lesson": "08_test", "title": "Kolejność", "questions": [
    {"id": f"08-order-{k}", "type": "single", "prompt": "Który kwiat?",
     "options": ["róża", "tulipan", "mlecz", "stokrotka", "słonecznik"], "answer": 0,
     "explanation": "Róża.", "hints": ["R."]} for k in range(6)] + [
    {"id": "08-order-multi", "type": "multiple", "prompt": "Które są żółte?",
     "options": ["mlecz", "słonecznik", "róża", "stokrotka"], "answer": [0, 1],
     "explanation": "Mlecz i słonecznik.", "hints": ["Dwa."]}]}


def test_options_are_shown_in_a_fixed_shuffle_that_keeps_the_right_answer(setup):
    (setup / "08_test.json").write_text(json.dumps(SHUFFLED), encoding="utf-8")
    shown = [qz.get_question(f"08-order-{k}") for k in range(6)]
    for q in shown:
        assert sorted(q["options"]) == sorted(SHUFFLED["questions"][0]["options"])
        assert q["options"][q["answer"]] == "róża"  # the answer follows its text
        assert qz.get_question(q["id"])["options"] == q["options"]  # the same order every time
    assert len({q["answer"] for q in shown}) > 1  # the right answer is not always in one place
    multi = qz.get_question("08-order-multi")
    assert sorted(multi["options"][i] for i in multi["answer"]) == ["mlecz", "słonecznik"]
    assert multi["answer"] == sorted(multi["answer"])
    # a learner clicking the option "róża" gets ✓, wherever it is shown
    w = qz.quiz("08-order-3")
    w.input.value = w.question["options"].index("róża")
    w.button.click()
    assert w.feedback_text.startswith("✓")
    # the stored answer is the shown position and is graded the same after a rerun
    again = qz.quiz("08-order-3")
    assert again.feedback_text.startswith("✓") and again.input.value == w.input.value


def test_the_course_does_not_give_away_answers_by_their_place():
    bank = qz.load_bank(REAL_QUIZ_DIR)
    raw = {}
    for path in sorted(REAL_QUIZ_DIR.glob("*.json")):
        raw.update({q["id"]: q for q in json.loads(path.read_text(encoding="utf-8"))["questions"]})
    single = [q for q in bank.values() if q["type"] == "single"]
    assert len(single) >= 20
    for q in single:  # the learner's right option is the file's right option
        assert q["options"][q["answer"]] == raw[q["id"]]["options"][raw[q["id"]]["answer"]]
    first = sum(q["answer"] == 0 for q in single)
    assert first < len(single) / 2, f"{first} of {len(single)} questions show the right answer first"


def test_multiple_choice_widget_needs_all_and_only_correct_boxes():
    w = qz.quiz("09-multi")
    w.input.children[0].value = True
    w.button.click()
    assert w.feedback_text.startswith("✗") and "Bazę i BatchNorm." not in w.feedback_text
    w.input.children[2].value = True
    w.button.click()
    assert w.feedback_text.startswith("✓")
    assert [r["answer"] for r in stored()] == [[0], [0, 2]]


def test_truefalse_widget():
    w = qz.quiz("09-tf")
    w.input.value = False
    w.button.click()
    assert w.feedback_text.startswith("✗") and "rozkład" not in w.feedback_text
    assert "Podpowiedź 1/1: Tak." in w.feedback_text
    assert stored()[-1]["answer"] is False


@pytest.mark.parametrize("typed, correct", [("6405", True), ("6 405", True), ("6400", False)])
def test_numeric_widget(typed, correct):
    w = qz.quiz("09-num")
    w.input.value = typed
    w.button.click()
    assert w.feedback_text.startswith("✓" if correct else "✗")
    assert ("1280 * 5 + 5." in w.feedback_text) is correct  # explained only once right
    assert stored()[-1]["correct"] is correct


def test_numeric_tolerance_and_polish_decimal_comma():
    assert qz.quiz("09-ratio").answer("0,51").correct
    assert not qz.quiz("09-ratio").answer(0.53).correct


@pytest.mark.parametrize("qid, value, expected", [
    ("09-single", None, "Nie wybrano"),
    ("09-tf", None, "Nie wybrano"),
    ("09-num", "", "Nie wpisano liczby"),
    ("09-num", "sześć tysięcy", "to nie liczba"),
])
def test_empty_or_bad_widget_input_shows_a_message_and_stores_nothing(qid, value, expected):
    w = qz.quiz(qid)
    w.input.value = value
    w.button.click()
    assert expected in w.feedback_text and w.feedback_text.startswith("❌")
    assert "\n" not in w.feedback_text
    assert stored() == []


def test_multiple_with_no_box_checked():
    w = qz.quiz("09-multi")
    w.button.click()
    assert "Nie zaznaczono" in w.feedback_text and stored() == []


def test_answer_in_code_returns_a_result_and_updates_the_widget():
    w = qz.quiz("09-single")
    result = w.answer(2)
    assert result.correct and bool(result) and repr(result).startswith("✓")
    assert "Kurs używa MobileNetV2." in result.text
    assert w.input.value == 1 and w.feedback_text == result.text
    assert qz.quiz("09-single").answer("vgg").correct is False  # exact option text works too
    assert qz.quiz("09-multi").answer([3, 1]).correct
    assert qz.quiz("09-multi").answer("1, 3").correct
    assert qz.quiz("09-tf").answer("prawda").correct
    assert qz.quiz("09-num").answer(6405).correct
    assert len(stored()) == 6


@pytest.mark.parametrize("qid, value, expected", [
    ("09-single", 0, "od 1 do 3"),
    ("09-single", 4, "od 1 do 3"),
    ("09-single", True, "od 1 do 3"),
    ("09-single", [], "Nie wybrano"),
    ("09-multi", [], "Nie zaznaczono"),
    ("09-multi", [1, 9], "od 1 do 3"),
    ("09-tf", "może", "True (prawda) albo False"),
    ("09-num", "abc", "to nie liczba"),
    ("09-num", float("nan"), "to nie liczba"),
])
def test_bad_answers_in_code_raise_one_polish_line(qid, value, expected):
    with pytest.raises(CourseError, match=re.escape(expected)) as info:
        qz.quiz(qid).answer(value)
    assert "\n" not in str(info.value)
    assert stored() == []


def test_rerun_preselects_the_last_answer_and_shows_its_feedback():
    qz.quiz("09-multi").answer([1, 3])
    w = qz.quiz("09-multi")
    assert [box.value for box in w.input.children] == [True, False, True]
    assert w.feedback_text.startswith("✓") and "Bazę i BatchNorm." in w.feedback_text
    qz.quiz("09-num").answer("6400")
    w = qz.quiz("09-num")
    assert w.input.value == "6400" and w.feedback_text.startswith("✗")
    assert "1280 * 5 + 5." not in w.feedback_text and w.show_button.layout.display is None
    assert qz.quiz("09-single").feedback_text == ""  # never answered: nothing shown


def test_text_fallback_in_the_mimebundle():
    w = qz.quiz("09-single")
    bundle = w._repr_mimebundle_()
    text = bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "Która baza?" in text and "  1. ResNet" in text and "  3. VGG" in text
    assert "quiz('09-single').answer(" in text and "Ostatnia" not in text
    w.answer(2)
    text = qz.quiz("09-single")._repr_mimebundle_()["text/plain"]
    assert "Ostatnia zapisana odpowiedź: 2. MobileNetV2 (✓ dobrze; prób: 1)" in text
    assert "quiz('09-single').hint()" in text
    tf_text = qz.quiz("09-tf")._repr_mimebundle_()["text/plain"]
    assert "1. Prawda" in tf_text and ".answer(True)" in tf_text


def test_ipython_formatter_uses_the_text_version():
    from IPython.core.formatters import DisplayFormatter
    data, _ = DisplayFormatter().format(qz.quiz("09-num"))
    assert "Ile parametrów ma głowa?" in data["text/plain"] and ".answer(LICZBA)" in data["text/plain"]


def test_plain_console_prints_the_question(monkeypatch, capsys):
    monkeypatch.setattr(qz, "in_ipython", lambda: False)
    w = qz.quiz("09-single")
    out = capsys.readouterr().out
    assert "Która baza?" in out and "2. MobileNetV2" in out and "quiz('09-single').answer(" in out
    assert repr(w) == "quiz('09-single')"
    monkeypatch.setattr(qz, "in_ipython", lambda: True)
    qz.quiz("09-single")
    assert capsys.readouterr().out == ""  # in IPython the display shows it instead


def test_unknown_id_suggests_the_closest_one():
    with pytest.raises(CourseError, match="czy chodziło o '09-single'") as info:
        qz.quiz("09-singel")
    assert "Pytania tej lekcji: 09-single, 09-multi" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(CourseError, match="Lekcje z pytaniami: 09_test"):
        qz.quiz(7)


def test_broken_question_file_is_one_polish_line(setup):
    (setup / "10_broken.json").write_text("{ nie json", encoding="utf-8")
    with pytest.raises(CourseError, match="10_broken.json"):
        qz.quiz("09-single")


def test_progress_write_failure_still_grades(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(blocker / "progress.json"))
    w = qz.quiz("09-single")
    w.input.value = 1
    w.button.click()
    assert w.feedback_text.startswith("✓") and "Nie zapisano postępu" in w.feedback_text


def test_code_check_passes_fails_and_records(capsys):
    cc = qz.code_check("09-code")
    assert cc.check(3) is True
    out = capsys.readouterr().out
    assert out.startswith("✓") and "dostałem 3" in out and "trainable = False." in out
    assert cc.check(4) is False
    out = capsys.readouterr().out
    assert out.startswith("✗") and "trainable = False." not in out  # no explanation for ✗
    assert cc.check(4, expected=4) is True  # params can be given explicitly
    assert [(r["id"], r["correct"]) for r in stored()] == [
        ("09-code", True), ("09-code", False), ("09-code", True)]


def test_code_check_wrong_object_is_one_line_not_a_traceback(capsys):
    assert qz.code_check("09-code").check([1, 2]) is False
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "✗ Jeszcze nie. Oczekiwano liczby, a podano list."
    assert stored()[-1]["answer"] == "list" and stored()[-1]["correct"] is False


def test_hints_are_graded_and_solution_is_shown(capsys):
    cc = qz.quiz("09-code")  # quiz() on a code task gives the code check too
    assert isinstance(cc, qz.CodeCheck)
    assert "Podpowiedź 1/2: Pierwsza podpowiedź." in cc.hint()
    second = cc.hint()
    assert "Podpowiedź 2/2: Druga podpowiedź." in second and "ostatnia" in second
    assert "Podpowiedź 2/2" in cc.hint()
    assert events() == [("09-code", "hint"), ("09-code", "hint")]  # the repeat is not a new hint
    assert cc.solution() == "base.trainable = False"
    assert "base.trainable = False" in capsys.readouterr().out
    assert events()[-1] == ("09-code", "solution")
    assert "Podpowiedź 2/2" in qz.code_check("09-code").hint()  # a new object goes on
    assert "code_check('09-code').check(" in repr(cc)


def test_code_check_on_a_non_code_question():
    with pytest.raises(CourseError, match="quiz\\('09-single'\\)"):
        qz.code_check("09-single")


def test_show_progress_prints_table_and_returns_report(monkeypatch, capsys):
    monkeypatch.setattr(qz, "in_ipython", lambda: False)
    qz.quiz("09-single").answer(2)
    capsys.readouterr()
    report = qz.show_progress()
    out = capsys.readouterr().out
    assert "09_test" in out and "09-multi" in out and "1/7" in out
    assert report.unanswered == ["09-code", "09-multi", "09-num", "09-open", "09-ratio", "09-tf"]
    assert report.figure.axes


def test_importing_the_quiz_does_not_import_tensorflow():
    import subprocess
    code = "import course_utils.quiz, sys; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_real_kernel_shows_widgets_with_text_fallback(tmp_path, monkeypatch):
    """Executed like nbconvert / nbval: no error, readable text/plain, one progress display."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(tmp_path / "kernel_progress.json"))
    order = qz.load_bank(REAL_QUIZ_DIR)["00-order"]
    right = order["answer"] + 1  # as shown to learners
    cells = ['from course_utils.quiz import quiz, show_progress, reset_progress\nquiz("00-order")',
             f'quiz("00-order").answer({right})', "show_progress()", "reset_progress()"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outs = [cell.outputs for cell in nb.cells]
    assert f"{right}. {order['options'][right - 1]}" in outs[0][0]["data"]["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in outs[0][0]["data"]
    assert outs[1][0]["data"]["text/plain"].startswith("✓ Dobrze!")
    assert len(outs[2]) == 1 and "<table" in outs[2][0]["data"]["text/html"]
    assert "reset_progress(confirm=True)" in outs[3][0]["data"]["text/plain"]
    assert len(progress.load_answers()) == 1


@pytest.mark.parametrize("stored_answer", [7, 0])  # more options once; another order once
def test_a_stored_answer_that_no_longer_fits_is_ignored(stored_answer):
    progress.record("09-single", "09_test", stored_answer, True)
    w = qz.quiz("09-single")
    assert w.input.value is None and w.feedback_text == ""
    assert "Ostatnia" not in w.text()


# --- open questions ------------------------------------------------------------

def test_open_question_round_trip_in_the_widget():
    w = qz.quiz("09-open")
    assert isinstance(w, qz.OpenWidget) and w.review.layout.display == "none"
    w.reveal_button.click()  # nothing written yet: the model answer stays hidden
    assert w.feedback_text.startswith("❌") and "własnymi słowami" in w.feedback_text
    assert w.review.layout.display == "none" and stored() == []
    w.hint_button.click()
    assert "Pomyśl o ImageNet." in w.hint_area.value and events() == [("09-open", "hint")]
    w.input.value = "Bierzemy sieć z ImageNet i uczymy ją nowego zadania."
    w.reveal_button.click()
    assert w.review.layout.display is None
    assert "Wykorzystaniem wiedzy z jednego zadania w innym." in w.model.value
    assert [box.description for box in w.points] == LESSON["questions"][-1]["key_points"]
    w.points[0].value = w.points[1].value = True
    w.save_button.click()
    assert "2/3" in w.feedback_text and "mniej danych" in w.feedback_text  # what is still missing
    w.points[2].value = True
    w.save_button.click()
    assert "3/3" in w.feedback_text and "course-quiz-box-correct" in w.feedback.value
    assert [(r["kind"], r["answer"], r["correct"]) for r in stored()] == [
        ("open", {"text": w.input.value, "covered": [0, 1]}, False),
        ("open", {"text": w.input.value, "covered": [0, 1, 2]}, True)]
    again = qz.quiz("09-open")  # rerun: the text, the model answer and the ticks come back
    assert "Pomyśl o ImageNet." in again.hint_area.value
    assert again.input.value == w.input.value and again.review.layout.display is None
    assert [box.value for box in again.points] == [True, True, True]


def test_open_question_in_code():
    q = qz.quiz("09-open")
    shown = q.answer("Używamy gotowych cech.")
    assert "Wykorzystaniem wiedzy" in shown.text and "☐ 3. mniej danych" in shown.text
    assert stored() == []  # nothing saved until the learner says what was covered
    result = qz.quiz("09-open").answer("Używamy gotowych cech.", covered=[1, 3])
    assert not result and stored()[-1]["answer"] == {"text": "Używamy gotowych cech.", "covered": [0, 2]}
    assert "☑ 1. wiedza z zadania źródłowego" in result.text and "☐ 2. nowe zadanie" in result.text
    with pytest.raises(CourseError, match="od 1 do 3"):
        qz.quiz("09-open").answer("tekst", covered=[4])
    with pytest.raises(CourseError, match="własnymi słowami"):
        qz.quiz("09-open").answer("   ", covered=[1])
    assert len(stored()) == 1
    text = qz.quiz("09-open").text()
    assert "covered=[1, 3]" in text and "quiz('09-open').hint()" in text and "show_answer" not in text


# --- the schema ----------------------------------------------------------------

GOOD = LESSON["questions"][0]


@pytest.mark.parametrize("question, expected", [
    ({k: v for k, v in GOOD.items() if k != "answer"}, "brak wymaganego pola 'answer'"),
    ({**GOOD, "explanaton": "x"}, "nieznane pole explanaton"),
    ({**GOOD, "answer": 3}, "odpowiedź 3 nie wskazuje żadnej opcji"),
    ({**GOOD, "answer": "1"}, "pole 'answer' ma zły typ"),
    ({**GOOD, "type": "essay"}, "niedozwoloną wartość 'essay'"),
    ({**GOOD, "hints": []}, "pole 'hints' jest puste"),
    ({**GOOD, "options": ["A", ""]}, "pole 'options[1]' jest puste"),
    ({"id": "09-bad", "type": "open", "prompt": "P?", "model_answer": "M.", "hints": ["h"]},
     "brak wymaganego pola 'key_points'"),
    ({"id": "09-bad", "type": "multiple", "prompt": "P?", "options": ["a", "b"], "answer": [0, 0],
      "explanation": "E.", "hints": ["h"]}, "powtórzone"),
    ({"id": "09-bad", "type": "code", "prompt": "P?", "checker": "no_such_check",
      "explanation": "E.", "hints": ["h"]}, "nieznany checker 'no_such_check'"),
])
def test_schema_errors_name_the_file_and_the_question(setup, question, expected):
    qid = question["id"]
    (setup / "10_bad.json").write_text(json.dumps({"lesson": "10_bad", "title": "Zła",
                                                   "questions": [question]}), encoding="utf-8")
    with pytest.raises(CourseError) as info:
        qz.quiz("09-tf")
    message = str(info.value)
    assert "10_bad.json" in message and f"pytanie {qid}" in message and expected in message
    assert "\n" not in message


def test_schema_errors_for_the_file_and_for_duplicates(setup):
    (setup / "10_bad.json").write_text(json.dumps({"title": "bez lekcji", "questions": [GOOD]}),
                                       encoding="utf-8")
    with pytest.raises(CourseError, match=r"10_bad\.json: brak wymaganego pola 'lesson'"):
        qz.load_bank()
    (setup / "10_bad.json").write_text(json.dumps({**LESSON, "lesson": "10_bad",
                                                   "questions": [GOOD]}), encoding="utf-8")
    with pytest.raises(CourseError, match=r"10_bad\.json, pytanie 09-single: to id ma już pytanie lekcji 09_test"):
        qz.load_bank()


def test_schema_accepts_the_open_format_of_the_team_contract(setup):
    contract = {"id": "08-p1-open", "type": "open", "prompt": "...", "model_answer": "...",
                "key_points": ["...", "..."], "hints": ["..."]}
    (setup / "08_x.json").write_text(json.dumps({"lesson": "08_x", "title": "X", "questions": [contract]}),
                                     encoding="utf-8")
    assert qz.get_question("08-p1-open")["key_points"] == ["...", "..."]


def test_every_course_file_passes_the_schema():
    bank = qz.load_bank(REAL_QUIZ_DIR)
    files = sorted(REAL_QUIZ_DIR.glob("*.json"))
    count = sum(len(json.loads(p.read_text(encoding="utf-8"))["questions"]) for p in files)
    assert len(bank) == count and set(q["type"] for q in bank.values()) <= set(qz.TYPES)
