"""A CourseError in a notebook cell: one line for the learner, still a failed cell."""
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def _run(source):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source), nbformat.v4.new_code_cell("print('dalej')")]
    client = NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True)
    client.execute()
    return nb


def test_course_error_shows_one_line_and_fails_the_cell():
    nb = _run("import course_utils\nraise course_utils.CourseError('Zły rozmiar: wybierz 96')")
    (error,) = nb.cells[0].outputs
    assert error.output_type == "error"  # "Run All" stops here and nbval reports it
    assert error.traceback == ["❌ Zły rozmiar: wybierz 96"]


def test_other_errors_keep_their_full_traceback():
    nb = _run("import course_utils\n1 / 0")
    (error,) = nb.cells[0].outputs
    assert error.ename == "ZeroDivisionError" and len(error.traceback) > 1


def test_run_all_stops_at_a_course_error():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import course_utils\nraise course_utils.CourseError('x')")]
    with pytest.raises(CellExecutionError):
        NotebookClient(nb, kernel_name="python3", timeout=120).execute()


def test_plural_follows_polish_rules():
    from course_utils.messages import count, plural

    forms = ("zdjęcie", "zdjęcia", "zdjęć")
    expected = {0: "zdjęć", 1: "zdjęcie", 2: "zdjęcia", 4: "zdjęcia", 5: "zdjęć", 11: "zdjęć",
                12: "zdjęć", 14: "zdjęć", 21: "zdjęć", 22: "zdjęcia", 104: "zdjęcia", 112: "zdjęć"}
    assert {n: plural(n, *forms) for n in expected} == expected
    assert count(3, *forms) == "3 zdjęcia"
