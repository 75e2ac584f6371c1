"""The one exception type for user mistakes: its message is a single clear sentence."""


class SemhashError(Exception):
    """A problem the user can fix (bad path, wrong model, empty folder, ...).

    The CLI turns it into one line on stderr and a non-zero exit, never a traceback.
    """


class IndexLost(SemhashError):
    """The codes of a collection are gone (index file or Milvus collection missing or
    damaged); `semhash check --repair` rebuilds them from the model and stored inputs."""


class Unavailable(SemhashError):
    """A part of a collection that lives elsewhere (the metadata database, a Milvus
    server) is not answering: not the user's mistake, and it may pass (the server answers
    503)."""
