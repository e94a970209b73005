"""One run of drapto: its set-up, the reporter, the run's end, the `drapto` command
and the settings reference."""
