"""Linked geodata: vector layers to GeoSPARQL RDF, a spatially indexed store and its queries.

What GeoTriples, Strabon and Sextant did in the tutorial, from Python.
"""
