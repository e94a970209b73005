"""drapto: re-encode movie remuxes to AV1 + Opus MKV at a target quality, as a doit build."""

__version__ = "0.1.0"

# Bumped whenever the meaning of an artifact changes: every target is redone.
PIPELINE_VERSION = 3
