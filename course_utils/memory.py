"""Process memory: fewer glibc malloc arenas, so memory freed by TensorFlow's threads is reused."""
import ctypes
import ctypes.util
import os
import sys

from .config import MALLOC_ARENAS

M_ARENA_MAX = -8  # glibc's mallopt() parameter number for the arena limit


def limit_malloc_arenas(arenas=MALLOC_ARENAS):
    """Cap glibc's malloc arenas at ``arenas`` (Linux only); return whether the cap was set.

    glibc gives threads that allocate at the same time arenas of their own (up to 8 per
    core), and memory freed in one arena is not reused by the others, so a process that runs
    TensorFlow keeps growing. glibc fixes its limit when the process first needs a new arena,
    so this works only before other threads allocate: in scripts and ``python -m course_utils``,
    which import course_utils first, not in a Jupyter kernel (its threads run before the first
    cell; ``make lab`` sets ``MALLOC_ARENA_MAX`` for the kernels instead). ``MALLOC_ARENA_MAX``
    in the environment, when set, wins: then nothing is changed. Elsewhere (macOS, Windows,
    musl) this does nothing.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.mallopt(M_ARENA_MAX, int(arenas)) == 1
    except (OSError, AttributeError):  # no glibc: no mallopt
        return False
