"""The one exception type for expected failures (bad input, FFmpeg refusing, bad settings)."""


class DraptoError(Exception):
    """An expected failure: shown to the user as one line, never as a traceback. *output*:
    the end of the failing program's output, more than the message quotes."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output or message
