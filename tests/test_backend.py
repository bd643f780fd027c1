"""Importing course_utils asks TensorFlow for its oneDNN CPU kernels on x86-64, unless the environment says otherwise.

Each check loads TensorFlow in a fresh process with its C++ log on and reads the line
TensorFlow prints when oneDNN is on.
"""
import os
import platform
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                                reason="oneDNN's x86-64 kernels")

ON = "oneDNN custom operations are on"
PROBE = """
import os, sys
if sys.argv[1] == "course":
    import course_utils  # noqa: F401
print(os.environ.get("TF_ENABLE_ONEDNN_OPTS"))
import tensorflow
"""


def load_tensorflow(mode, **env):
    """``(TF_ENABLE_ONEDNN_OPTS before TensorFlow loads, whether TensorFlow said oneDNN is on)``."""
    base = {k: v for k, v in os.environ.items() if k not in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         env={**base, **env, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "0"})
    return out.stdout.strip().splitlines()[-1], ON in out.stderr


def test_importing_course_utils_turns_onednn_on():
    assert load_tensorflow("course") == ("1", True)


def test_the_environment_wins():
    assert load_tensorflow("course", TF_ENABLE_ONEDNN_OPTS="0") == ("0", False)


def test_nothing_changes_once_tensorflow_is_loaded(monkeypatch):
    from course_utils import backend

    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", object()))
    assert backend.enable_onednn(True) is False and "TF_ENABLE_ONEDNN_OPTS" not in os.environ


def test_config_can_turn_it_off(monkeypatch):
    from course_utils import backend

    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    assert backend.enable_onednn(False) is False and "TF_ENABLE_ONEDNN_OPTS" not in os.environ
    assert backend.enable_onednn(True) is True and os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
