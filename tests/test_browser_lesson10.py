"""Lesson 10 in a real browser: photos uploaded into the studio's widget, trained on, accuracy shown.

JupyterLab + Debian's Chromium (tests/browser_support.py): the learner's steps in
10_wlasny_klasyfikator.ipynb are typing two class names, choosing 6 real photos for each
with the file dialog (Playwright's file chooser, ``set_files`` = ``set_input_files`` on the widget's file input),
then running the lesson down to the k-fold estimate. The photos must land in the course
home, the lesson must train on them (not on the demo) and the page must show the accuracy
the kernel computed. Skipped only when /usr/bin/chromium is missing and
COURSE_REQUIRE_BROWSER is not set.
"""
import re
import time

import pytest
from browser_support import LabPage, StepFailed, squash

LESSON = "10_wlasny_klasyfikator.ipynb"
CLASSES = {"stokrotka": "daisy", "tulipan": "tulips"}


@pytest.fixture
def lab(browser_lab):
    """The session's private JupyterLab and Chromium (tests/conftest.py)."""
    return browser_lab


def wait_text(locator, pattern, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        text = squash(locator.inner_text())
        if re.search(pattern, text):
            return text
        if time.monotonic() > deadline:
            raise StepFailed(f"{timeout} s: {what} shows {text!r}, expected {pattern!r}")
        time.sleep(0.3)


def test_upload_train_and_see_the_accuracy(lab, photos_dir):
    page = LabPage(lab.browser, lab.server, lab.shots, "lesson10")
    try:
        with page.step(f"open {LESSON}"):
            page.open_notebook(LESSON)

        with page.step("run the studio cell"):
            studio_index, _ = page.cell_index(r"studio = PhotoStudio\(\)")
            studio = page.run_up_to(studio_index, ".photo-studio")

        for name, source in CLASSES.items():
            with page.step(f"add the class {name} and upload 6 photos"):
                box = studio.get_by_placeholder("np. kubek")
                box.fill(name)
                studio.get_by_role("button", name="Dodaj klasę").click()
                row = studio.locator(".widget-hbox", has=page.page.locator(".photo-studio-class",
                                                                              has_text=name))
                row.first.wait_for(timeout=20_000)
                photos = sorted((photos_dir / source).glob("*.jpg"))[:6]
                # ipywidgets 8 keeps the upload's <input type=file> out of the page (a button opens it),
                # so the photos go in through the file chooser it opens: FileChooser.set_files is
                # Playwright's set_input_files on that input
                with page.page.expect_file_chooser() as chooser:
                    row.first.locator(".photo-studio-upload").click()
                assert chooser.value.is_multiple(), "the upload button does not accept several files"
                chooser.value.set_files([str(p) for p in photos])
                wait_text(row.first.locator(".photo-studio-class"), r"6 zdjęć", 60, f"the row of {name}")

        with page.step("the photos are in the course home"):
            root = lab.server.home / "own_photos"
            for name in CLASSES:
                saved = sorted(p.name for p in (root / name).iterdir())
                assert len(saved) == 6, f"{root / name} holds {saved}"

        with page.step("run the lesson down to the k-fold estimate"):
            index, _ = page.cell_index(r"estimate = small_data\.kfold_estimate")
            output = page.run_up_to(index, "pre", timeout=300)
            text = wait_text(output, r"walidacji krzyżowej", 30, "the k-fold cell")

        with page.step("the page shows the accuracy the kernel computed, on the uploaded photos"):
            kernel = page.kernel_print("print(small_data.percent(estimate.accuracy), estimate.n, folder.name)")
            acc, n, folder = kernel.split()
            assert (n, folder) == ("12", "own_photos"), f"the lesson trained on {folder} ({n} photos)"
            assert f"dokładność {acc}" in text, f"the page shows {text!r}, the kernel's accuracy is {acc}"
            assert "na 12 zdjęć" in text, f"the estimate is not over the 12 uploaded photos: {text!r}"
    finally:
        page.close()
