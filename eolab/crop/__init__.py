"""Crop-type mapping: cloud masks, monthly composites, an LSTM on TimeSen2Crop-format data."""
