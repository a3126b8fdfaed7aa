"""The one exception type users see: a single line naming the file or option at fault."""


class EverzoomError(Exception):
    """Bad input or an unusable environment. The CLI prints the message alone, no traceback."""
