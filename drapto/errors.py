"""The one exception type for expected failures (bad input, FFmpeg refusing, bad settings)."""


class DraptoError(Exception):
    """An expected failure: shown to the user as one line, never as a traceback."""
