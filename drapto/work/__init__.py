"""The work: jobs and their work folders, stamps and keys, the task graph's pieces,
the run's ledger, and what an output holds."""
