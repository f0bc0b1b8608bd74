"""Sentinel-1 algorithms: orbit and zero-Doppler geometry, TOPS, coregistration, coherence.

Modules see numpy/xarray only; reading SAFE products is the job of ``eolab.io``.
"""
