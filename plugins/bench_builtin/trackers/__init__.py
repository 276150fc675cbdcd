"""Built-in trackers (a suite's ``trackers:``)."""
