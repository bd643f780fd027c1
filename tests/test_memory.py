"""Importing course_utils caps glibc's malloc arenas (a smaller kernel peak), unless MALLOC_ARENA_MAX is set.

Each check runs a fresh Python process in which 8 threads allocate, then counts the arenas
glibc reports (``malloc_info``: one ``<heap nr=...>`` per arena).
"""
import os
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")

PROBE = r"""
import ctypes, sys, tempfile, threading
if sys.argv[1] == "course":
    import course_utils  # noqa: F401
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.fopen.restype = ctypes.c_void_p
barrier = threading.Barrier(8)

def work():
    blocks = [libc.malloc(4096) for _ in range(50)]
    for b in blocks:
        libc.free(b)
    barrier.wait()

threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
path = tempfile.mktemp()
fp = ctypes.c_void_p(libc.fopen(path.encode(), b"w"))
libc.malloc_info(0, fp)
libc.fclose(fp)
print(open(path).read().count("<heap nr="))
"""


def arenas(mode, **env):
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], env={**base, **env, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_importing_course_utils_caps_the_arenas_at_the_config_value():
    from course_utils.config import MALLOC_ARENAS

    assert arenas("plain") > MALLOC_ARENAS  # without the cap, 8 threads get arenas of their own
    assert arenas("course") == MALLOC_ARENAS


def test_malloc_arena_max_in_the_environment_wins():
    assert arenas("course", MALLOC_ARENA_MAX="1") == 1
    assert arenas("course", MALLOC_ARENA_MAX="4") == 4


def test_the_call_says_whether_it_set_the_cap(monkeypatch):
    from course_utils.memory import limit_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "3")
    assert limit_malloc_arenas() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert limit_malloc_arenas() is True


@pytest.mark.parametrize("preset", [None, "5"])
def test_make_lab_starts_jupyterlab_with_the_arena_cap(preset):
    """`make lab`'s JupyterLab command runs with MALLOC_ARENA_MAX: the config's value, or the learner's own."""
    from course_utils.config import MALLOC_ARENAS

    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    if preset:
        env["MALLOC_ARENA_MAX"] = preset
    plan = subprocess.run(["make", "-n", "lab"], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    line = next(ln for ln in plan.stdout.splitlines() if "jupyter lab" in ln)
    probe = line[:line.index(".venv/bin/jupyter")] + "printenv MALLOC_ARENA_MAX"
    got = subprocess.run(["sh", "-c", probe], env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert got == (preset or str(MALLOC_ARENAS))
