"""The command line and the demo: the edge that builds the runtime (and wires the
embedded emulators in for `sandbox://` URLs).
"""
