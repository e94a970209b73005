"""One module per kind of artifact: plain action functions plus the creator of its tasks."""
