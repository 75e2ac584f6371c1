"""The one exception type for user mistakes: its message is a single clear sentence."""


class SemhashError(Exception):
    """A problem the user can fix (bad path, wrong model, empty folder, ...).

    The CLI turns it into one line on stderr and a non-zero exit, never a traceback.
    """
