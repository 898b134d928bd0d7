"""Runs inside the untrusted worker process: the request server, confinement applied from
inside, run-time guards. Imports only itself and autograder.common."""
