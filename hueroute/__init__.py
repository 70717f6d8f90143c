"""hueroute: restore damaged grayscale photos to colour with a cluster-routed ensemble."""

__version__ = "0.1.0"
