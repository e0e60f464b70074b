"""The target and how to reach it: discovery, target files and commands, deadlines and pacing."""
