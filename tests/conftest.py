"""Shared fixtures: the real offline photos and weights, and a private course home."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.config import offline_assets

REPO = Path(__file__).resolve().parents[1]
# The offline assets: from the environment (.ci/run, the Makefile) or ../shared beside the repo (config).
_SHARED_PHOTOS, _SHARED_WEIGHTS = offline_assets(REPO)
PHOTOS = Path(os.environ.get("COURSE_DATA_DIR") or _SHARED_PHOTOS)
WEIGHTS = Path(os.environ.get("COURSE_WEIGHTS") or _SHARED_WEIGHTS)


def _asset(env, path):
    if not path.exists():
        pytest.fail(f"{env} not set and {path} missing: the tests need the offline photos "
                    f"and weights (see README, 'Offline use')", pytrace=False)
    return path


@pytest.fixture(scope="session")
def photos_dir():
    """The real tf_flowers photos in flower_photos/<class>/*.jpg layout."""
    return _asset("COURSE_DATA_DIR", PHOTOS)


@pytest.fixture(scope="session")
def weights_path():
    """The genuine ImageNet MobileNetV2 no-top weights file."""
    return _asset("COURSE_WEIGHTS", WEIGHTS)


@pytest.fixture(autouse=True)
def course_home(tmp_path, monkeypatch):
    """Every test gets its own progress file and caches; the offline assets where they exist.

    Tests that need photos or weights ask for ``photos_dir`` / ``weights_path`` (directly or
    through another fixture) and fail with a clear message when they are missing; tests that
    need neither (config, progress, quizzes) run without ``../shared``.
    """
    home = tmp_path / "course_home"
    monkeypatch.setenv("COURSE_HOME", str(home))
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(home / "progress.json"))
    for env, path in (("COURSE_DATA_DIR", PHOTOS), ("COURSE_WEIGHTS", WEIGHTS)):
        if path.exists():
            monkeypatch.setenv(env, str(path))
        else:
            monkeypatch.delenv(env, raising=False)
    return home


@pytest.fixture(scope="session")
def notebook_runs(request, tmp_path_factory, photos_dir, weights_path):
    """The lessons of the selected test_notebooks cases, executing in the background (tests/notebook_runs.py).

    ``{"shipped": Edition, "solved": Edition}`` (only the editions this session tests); the
    seconds of every lesson are printed in the session's summary (``pytest_terminal_summary``).
    """
    from notebook_runs import Edition, Runner, selected_lessons

    wanted = selected_lessons(request.session.items)
    editions = {name: Edition(name, tmp_path_factory.mktemp(name), photos_dir, weights_path, wanted[name])
                for name in ("shipped", "solved") if wanted[name]}
    runner = Runner(editions)
    yield editions
    runner.stop()
    lines = [ed.timing() for ed in editions.values() if ed.seconds]
    _summary_file(tmp_path_factory, "notebooks").write_text("".join(f"{line}\n" for line in lines), "utf-8")


def is_browser_test(item):
    return item.path.name.startswith("test_browser")


def is_lesson_test(item):
    return item.path.name == "test_notebooks.py"


# Under pytest-xdist (``make test``: ``-n 2 --dist loadgroup``) every test file is one unit of
# work, so a module's fixtures are built once; the browser tests and the lessons are one unit
# ("lessons"), sent first: one worker runs the browser tests, then starts the lessons'
# kernels and waits for them, while the other worker runs the unit tests.
LESSONS_GROUP = "lessons"


# The slowest test files, slowest first (by their time in one process, measured 2 Dec 2026): sent first, so
# that no worker is left with a long file at the end while the other has nothing to do.
SLOW_FILES = ("test_training.py", "test_accelerator.py", "test_cli_tuned.py", "test_experiments.py",
              "test_tuning.py", "test_exercises.py", "test_benchmark.py", "test_cli_lesson10.py",
              "test_augmentation.py", "test_cli.py", "test_bench_small_data.py", "test_widgets.py")


def _order(item):
    name = item.path.name
    return (not is_browser_test(item), not is_lesson_test(item),
            SLOW_FILES.index(name) if name in SLOW_FILES else len(SLOW_FILES))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    """Browser tests, lessons, then the slowest files (the rest keep their order); one xdist group per file."""
    items.sort(key=_order)
    for item in items:
        group = LESSONS_GROUP if is_browser_test(item) or is_lesson_test(item) else item.path.name
        item.add_marker(pytest.mark.xdist_group(group))


def _in_xdist_worker():
    return "PYTEST_XDIST_WORKER" in os.environ


@pytest.fixture(autouse=True)
def lessons_in_background(request):
    """Start ``notebook_runs`` at the first test after the browser tests, when lessons are to be tested.

    The other test files then run while the lessons execute in their own kernels; the browser
    tests (first in the order) do not share the CPU with the lessons' kernels. In an xdist
    worker the lessons start at their own first test instead: only the worker that was sent
    the lessons' group runs them.
    """
    session = request.session
    if not hasattr(session, "course_lessons_wanted"):
        from notebook_runs import selected_lessons

        session.course_lessons_wanted = any(selected_lessons(session.items).values())
    starts_here = is_lesson_test(request.node) if _in_xdist_worker() else not is_browser_test(request.node)
    if session.course_lessons_wanted and PHOTOS.exists() and WEIGHTS.exists() and starts_here:
        request.getfixturevalue("notebook_runs")


def _summary_file(tmp_path_factory, kind):
    """Where a process leaves lines for the session's summary (the xdist controller collects them)."""
    return tmp_path_factory.getbasetemp() / f"summary-{kind}-{os.getpid()}.txt"


def pytest_terminal_summary(terminalreporter, config):
    """The lessons' seconds and the browser tests' screenshots, from this process or its xdist workers."""
    if _in_xdist_worker() or not hasattr(config, "_tmp_path_factory"):
        return
    root = config._tmp_path_factory.getbasetemp()
    for path in sorted([*root.glob("summary-*.txt"), *root.glob("popen-gw*/summary-*.txt")]):
        for line in path.read_text(encoding="utf-8").splitlines():
            terminalreporter.write_line(line)


@pytest.fixture
def small_photo_dir(tmp_path, photos_dir):
    """A fresh folder with symlinks to 6 real photos of each class (editable by a test)."""
    root = tmp_path / "flower_photos"
    for class_dir in sorted(p for p in photos_dir.iterdir() if p.is_dir()):
        (root / class_dir.name).mkdir(parents=True)
        for photo in sorted(class_dir.glob("*.jpg"))[:6]:
            (root / class_dir.name / photo.name).symlink_to(photo)
    return root


@pytest.fixture(scope="session")
def browser_lab(tmp_path_factory, photos_dir, weights_path):
    """One private JupyterLab on a copy of notebooks/ and one headless Chromium for every browser test.

    Started once per session (each start costs a server, a browser and their warm-up) and stopped
    in every case; each test opens its own browser context and workspace, and ends its kernels.
    """
    from browser_support import lab_session

    work = tmp_path_factory.mktemp("browser")
    env = {"COURSE_DATA_DIR": photos_dir, "COURSE_WEIGHTS": weights_path}
    try:
        with lab_session(work, env) as session:
            yield session
    finally:
        if (work / "jupyterlab.log").exists():  # shown on success too
            _summary_file(tmp_path_factory, "browser").write_text(
                f"browser tests: screenshots in {work / 'screenshots'}, "
                f"JupyterLab log {work / 'jupyterlab.log'}\n", "utf-8")


def run_cli(args, env):
    """Run ``python -m course_utils ARGS`` as a learner would, from the repository root."""
    return subprocess.run([sys.executable, "-m", "course_utils", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def cli_environment(home):
    """The process environment with its own course home and none of the course's overrides."""
    env = dict(os.environ)
    env["COURSE_HOME"] = str(home)
    for name in ("COURSE_FAST", "CI", "COURSE_DATA_DIR", "COURSE_WEIGHTS", "COURSE_PER_CLASS",
                 "COURSE_IMAGE_SIZE"):
        env.pop(name, None)
    return env


def _pytest_is_the_process():
    """True when this process is the pytest command itself (``pytest ...`` or ``python -m pytest``)."""
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return (main_spec is not None and main_spec.name in ("pytest", "pytest.__main__")) or \
        Path(sys.argv[0]).name in ("pytest", "py.test")


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config):
    """End the pytest process as soon as pytest has finished, skipping the interpreter's teardown.

    With TensorFlow and many Keras models in memory, Python's own shutdown (freeing every
    object, TensorFlow's native destructors) took about 7 s after tests/test_training.py alone
    (2 Dec 2026: 14.7 s from its summary line to the exit before, 7.8 s after; the rest is
    pytest's own garbage collection that looks for unraisable exceptions, kept), with nothing
    left to do: pytest has already reported, unconfigured and cleaned up, and the exit
    handlers (``atexit``) still run here.
    Only for the pytest command itself, never when pytest runs inside another program.
    """
    status = yield
    if _pytest_is_the_process():
        import atexit

        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(status))
    return status
