"""Sentinel-1 algorithms: orbit and zero-Doppler geometry, TOPS, coregistration, coherence.

Modules see numpy/xarray only; reading SAFE products is the job of ``eolab.io``.

* :mod:`eolab.s1.chain` — :func:`~eolab.s1.chain.pair_to_map`: two IW SLC
  products to sigma0 of both dates and coherence on the map grid (the S1-CD
  chain); :func:`~eolab.s1.chain.sigma0_pair_to_map` without coherence (SLC
  or GRD);
* :mod:`eolab.s1.pair` — burst geometry, offsets from the orbits, coregistration;
* :mod:`eolab.s1.geometry`, :mod:`eolab.s1.tops`, :mod:`eolab.s1.coregister`,
  :mod:`eolab.s1.coherence`, :mod:`eolab.s1.multilook`, :mod:`eolab.s1.geocode`,
  :mod:`eolab.s1.grd` — the steps;
* :mod:`eolab.s1.flood` — water and flood from backscatter.
"""
