"""The repository stays clean: notebooks stored without outputs, valid, and self-contained."""
import json
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_lessons():
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(len(NOTEBOOKS))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a lesson without code"
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert dirty == [], f"cells stored with outputs or execution counts: {dirty}"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "no title cell"


def test_planted_output_is_caught(tmp_path):
    path = NOTEBOOKS[0]
    nb = json.loads(path.read_text(encoding="utf-8"))
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    first_code["execution_count"] = 1
    planted = tmp_path / path.name
    planted.write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(AssertionError, match="outputs or execution counts"):
        test_notebook_is_stored_clean(planted)
