"""Builds the worker's sandbox from the trusted side: intake of the submission, the host probe,
the allow-listed root and the process lifecycle."""
