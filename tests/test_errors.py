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
