"""python -m drapto: the `drapto` command."""

import sys

from drapto.run.cli import main

sys.exit(main())
