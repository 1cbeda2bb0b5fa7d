"""Numba kernels over integer-coded annotation arrays.

Kernels take only NumPy integer/float arrays and scalars (no pandas).  Each
parallel kernel has a serial twin working on a slice of items, which is what
runs inside Dask tasks (nested thread pools deadlock, so no ``parallel=True``
there).
"""
