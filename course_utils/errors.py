"""One exception type for everything a learner can get wrong, shown as one line."""


class CourseError(Exception):
    """A learner-facing problem with a one-line, actionable message (in Polish)."""


def install_notebook_handler():
    """In IPython, show CourseError as one line instead of a long traceback."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: a normal exception is fine
        return False
    ip = get_ipython()
    if ip is None:
        return False

    def _show(shell, etype, value, tb, tb_offset=None):
        # Sent as a real error (one line, no traceback), so the cell still counts
        # as failed: "Run All" stops here and nbval reports it.
        shell._showtraceback(etype, value, [f"❌ {value}"])
        return None

    ip.set_custom_exc((CourseError,), _show)
    return True
