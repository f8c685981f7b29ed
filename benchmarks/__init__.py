"""Benchmarks of tap-acumatica against the simulator (run: ``python -m benchmarks.run``)."""
