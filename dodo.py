"""drapto's tasks for doit: `doit encode input=movie.mkv` (see drapto/tasks.py, README.md)."""

from drapto.tasks import *  # noqa: F403
