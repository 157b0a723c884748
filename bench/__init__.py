"""Benchmarks (not tests): `python -m bench --leads N`. See bench/README.md."""
