"""Issue 16's reliability suite (``make reliability``): the fault matrix, load, bad input."""
