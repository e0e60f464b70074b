"""One run of the suite: its shared servers, each target's preflight, interrupts, input checks."""
