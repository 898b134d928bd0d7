"""Code both sides run: the wire format of the pipe and vector-Jacobian products."""
