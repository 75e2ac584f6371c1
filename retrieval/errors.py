"""The one exception type for user mistakes: its message is a single clear sentence."""


class SemhashError(Exception):
    """A problem the user can fix (bad path, wrong model, empty folder, ...).

    The CLI turns it into one line on stderr and a non-zero exit, never a traceback.
    """


class IndexLost(SemhashError):
    """The codes of a collection are gone (index file or Milvus collection missing or
    damaged); `semhash check --repair` rebuilds them from the model and stored inputs."""


class UnknownItem(SemhashError):
    """An id the collection does not hold (removed, or never given): the server answers
    404."""


class OptionError(SemhashError):
    """One option out of its range. `option` names it as the JSON API spells it (k, radius,
    nhash, ...); `anywhere` is True when no collection would accept the value (the request
    itself is invalid), False when only this collection's code length or size refuses it."""

    def __init__(self, option: str, message: str, anywhere: bool = True):
        super().__init__(message)
        self.option, self.anywhere = option, anywhere


class Unavailable(SemhashError):
    """A part of a collection that lives elsewhere (the metadata database, a Milvus
    server) is not answering: not the user's mistake, and it may pass (the server answers
    503)."""
