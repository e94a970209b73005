"""python -m drapto: the `drapto` command."""

import sys

from .cli import main

sys.exit(main())
