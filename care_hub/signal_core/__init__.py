"""Signal core: pure, vectorised numpy/scipy detectors over many devices at once (no I/O)."""
