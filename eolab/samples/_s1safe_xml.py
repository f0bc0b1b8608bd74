"""XML of a simulated Sentinel-1 IW SLC SAFE: annotation, calibration, noise, manifest.

Element names, order and number formats follow real IPF 003.31 products
(shared/realdata, S1B 2021-04-01); only what readers use is written (no
attitude, antenna pattern, replica, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np


def utc(t: datetime) -> str:
    """``2021-03-12T19:16:04.123456`` (naive UTC, microseconds)."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")


def num(x: float) -> str:
    return f"{float(x):.15e}"


def nums(values: Sequence[float] | np.ndarray, fmt: str = "{:.6e}") -> str:
    return " ".join(fmt.format(float(v)) for v in values)


def ints(values: Sequence[int] | np.ndarray) -> str:
    return " ".join(str(int(v)) for v in values)


@dataclass
class Header:
    """What every XML file of one swath/polarisation repeats."""

    mission: str
    swath: str
    pol: str
    start: datetime
    stop: datetime
    absolute_orbit: int
    datatake: int
    image_number: str

    def xml(self) -> str:
        return f"""  <adsHeader>
    <missionId>{self.mission}</missionId>
    <productType>SLC</productType>
    <polarisation>{self.pol}</polarisation>
    <mode>IW</mode>
    <swath>{self.swath}</swath>
    <startTime>{utc(self.start)}</startTime>
    <stopTime>{utc(self.stop)}</stopTime>
    <absoluteOrbitNumber>{self.absolute_orbit}</absoluteOrbitNumber>
    <missionDataTakeId>{self.datatake}</missionDataTakeId>
    <imageNumber>{self.image_number}</imageNumber>
  </adsHeader>
"""


@dataclass
class Annotation:
    """Values of the product annotation (times are datetimes, naive UTC)."""

    header: Header
    anx: datetime
    heading: float
    range_sampling_rate: float
    radar_frequency: float
    steering_rate: float
    first_line: datetime
    last_line: datetime
    slant_range_time: float
    range_spacing: float
    azimuth_spacing: float
    azimuth_time_interval: float
    samples: int
    lines: int
    incidence_mid: float
    lines_per_burst: int
    burst_times: list[datetime]
    byte_offsets: list[int]
    first_valid: np.ndarray
    last_valid: np.ndarray
    orbit: list[tuple[datetime, np.ndarray, np.ndarray]]
    fm_rates: list[tuple[datetime, float, tuple[float, float, float]]]
    dc: list[tuple[datetime, float, tuple[float, float, float]]]
    gcps: list[dict[str, Any]] = field(default_factory=list)


def annotation_xml(a: Annotation) -> bytes:
    orbits = "".join(
        f"""      <orbit>
        <time>{utc(t)}</time>
        <frame>Earth Fixed</frame>
        <position>
          <x>{num(p[0])}</x>
          <y>{num(p[1])}</y>
          <z>{num(p[2])}</z>
        </position>
        <velocity>
          <x>{num(v[0])}</x>
          <y>{num(v[1])}</y>
          <z>{num(v[2])}</z>
        </velocity>
      </orbit>
"""
        for t, p, v in a.orbit
    )
    fm = "".join(
        f"""      <azimuthFmRate>
        <azimuthTime>{utc(t)}</azimuthTime>
        <t0>{num(t0)}</t0>
        <azimuthFmRatePolynomial count="3">{nums(c, "{:.15e}")}</azimuthFmRatePolynomial>
      </azimuthFmRate>
"""
        for t, t0, c in a.fm_rates
    )
    dc = "".join(
        f"""      <dcEstimate>
        <azimuthTime>{utc(t)}</azimuthTime>
        <t0>{num(t0)}</t0>
        <geometryDcPolynomial count="3">{nums(c)}</geometryDcPolynomial>
        <dataDcPolynomial count="3">{nums(c)}</dataDcPolynomial>
        <dataDcRmsError>0.000000000000000e+00</dataDcRmsError>
        <dataDcRmsErrorAboveThreshold>false</dataDcRmsErrorAboveThreshold>
        <fineDceAzimuthStartTime>{utc(t - timedelta(seconds=1.4))}</fineDceAzimuthStartTime>
        <fineDceAzimuthStopTime>{utc(t + timedelta(seconds=1.4))}</fineDceAzimuthStopTime>
        <fineDceList count="0"/>
      </dcEstimate>
"""
        for t, t0, c in a.dc
    )
    n = a.lines_per_burst
    bursts = "".join(
        f"""      <burst>
        <azimuthTime>{utc(t)}</azimuthTime>
        <azimuthAnxTime>{num((t - a.anx).total_seconds())}</azimuthAnxTime>
        <sensingTime>{utc(t + timedelta(seconds=1.138))}</sensingTime>
        <byteOffset>{off}</byteOffset>
        <firstValidSample count="{n}">{ints(a.first_valid)}</firstValidSample>
        <lastValidSample count="{n}">{ints(a.last_valid)}</lastValidSample>
      </burst>
"""
        for t, off in zip(a.burst_times, a.byte_offsets, strict=True)
    )
    gcps = "".join(
        f"""      <geolocationGridPoint>
        <azimuthTime>{utc(g["time"])}</azimuthTime>
        <slantRangeTime>{num(g["tau"])}</slantRangeTime>
        <line>{g["line"]}</line>
        <pixel>{g["pixel"]}</pixel>
        <latitude>{num(g["lat"])}</latitude>
        <longitude>{num(g["lon"])}</longitude>
        <height>{num(g["height"])}</height>
        <incidenceAngle>{num(g["incidence"])}</incidenceAngle>
        <elevationAngle>{num(g["elevation"])}</elevationAngle>
      </geolocationGridPoint>
"""
        for g in a.gcps
    )
    h = a.header
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<product>
{h.xml()}  <generalAnnotation>
    <productInformation>
      <pass>Descending</pass>
      <timelinessCategory>Fast-24h</timelinessCategory>
      <platformHeading>{num(a.heading)}</platformHeading>
      <projection>Slant Range</projection>
      <rangeSamplingRate>{num(a.range_sampling_rate)}</rangeSamplingRate>
      <radarFrequency>{num(a.radar_frequency)}</radarFrequency>
      <azimuthSteeringRate>{num(a.steering_rate)}</azimuthSteeringRate>
    </productInformation>
    <orbitList count="{len(a.orbit)}">
{orbits}    </orbitList>
    <azimuthFmRateList count="{len(a.fm_rates)}">
{fm}    </azimuthFmRateList>
  </generalAnnotation>
  <imageAnnotation>
    <imageInformation>
      <productFirstLineUtcTime>{utc(a.first_line)}</productFirstLineUtcTime>
      <productLastLineUtcTime>{utc(a.last_line)}</productLastLineUtcTime>
      <ascendingNodeTime>{utc(a.anx)}</ascendingNodeTime>
      <anchorTime>{utc(a.first_line)}</anchorTime>
      <productComposition>Individual</productComposition>
      <slantRangeTime>{num(a.slant_range_time)}</slantRangeTime>
      <pixelValue>Complex</pixelValue>
      <outputPixels>16 bit Signed Integer</outputPixels>
      <rangePixelSpacing>{a.range_spacing:.6e}</rangePixelSpacing>
      <azimuthPixelSpacing>{a.azimuth_spacing:.6e}</azimuthPixelSpacing>
      <azimuthTimeInterval>{num(a.azimuth_time_interval)}</azimuthTimeInterval>
      <azimuthFrequency>{num(1.0 / a.azimuth_time_interval)}</azimuthFrequency>
      <numberOfSamples>{a.samples}</numberOfSamples>
      <numberOfLines>{a.lines}</numberOfLines>
      <incidenceAngleMidSwath>{num(a.incidence_mid)}</incidenceAngleMidSwath>
    </imageInformation>
    <processingInformation>
      <thermalNoiseCorrectionPerformed>false</thermalNoiseCorrectionPerformed>
      <ellipsoidName>WGS84</ellipsoidName>
      <ellipsoidSemiMajorAxis>6.378137000000000e+06</ellipsoidSemiMajorAxis>
      <ellipsoidSemiMinorAxis>6.356752314245000e+06</ellipsoidSemiMinorAxis>
      <topsFilterConvention>Only Echo Lines</topsFilterConvention>
    </processingInformation>
  </imageAnnotation>
  <dopplerCentroid>
    <dcEstimateList count="{len(a.dc)}">
{dc}    </dcEstimateList>
  </dopplerCentroid>
  <swathTiming>
    <linesPerBurst>{a.lines_per_burst}</linesPerBurst>
    <samplesPerBurst>{a.samples}</samplesPerBurst>
    <burstList count="{len(a.burst_times)}">
{bursts}    </burstList>
  </swathTiming>
  <geolocationGrid>
    <geolocationGridPointList count="{len(a.gcps)}">
{gcps}    </geolocationGridPointList>
  </geolocationGrid>
</product>
"""
    return text.encode()


def calibration_xml(
    header: Header,
    vectors: list[tuple[datetime, int]],
    pixels: np.ndarray,
    sigma: np.ndarray,
    beta: float,
    gamma: np.ndarray,
    dn: float,
) -> bytes:
    n = pixels.size
    vec = "".join(
        f"""    <calibrationVector>
      <azimuthTime>{utc(t)}</azimuthTime>
      <line>{line}</line>
      <pixel count="{n}">{ints(pixels)}</pixel>
      <sigmaNought count="{n}">{nums(sigma)}</sigmaNought>
      <betaNought count="{n}">{nums(np.full(n, beta))}</betaNought>
      <gamma count="{n}">{nums(gamma)}</gamma>
      <dn count="{n}">{nums(np.full(n, dn))}</dn>
    </calibrationVector>
"""
        for t, line in vectors
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<calibration>
{header.xml()}  <calibrationInformation>
    <absoluteCalibrationConstant>1.000000e+00</absoluteCalibrationConstant>
  </calibrationInformation>
  <calibrationVectorList count="{len(vectors)}">
{vec}  </calibrationVectorList>
</calibration>
""".encode()


def noise_xml(
    header: Header,
    vectors: list[tuple[datetime, int]],
    pixels: np.ndarray,
    lut: np.ndarray,
    lines: int,
    samples: int,
) -> bytes:
    n = pixels.size
    vec = "".join(
        f"""    <noiseRangeVector>
      <azimuthTime>{utc(t)}</azimuthTime>
      <line>{line}</line>
      <pixel count="{n}">{ints(pixels)}</pixel>
      <noiseRangeLut count="{n}">{nums(lut)}</noiseRangeLut>
    </noiseRangeVector>
"""
        for t, line in vectors
    )
    az_lines = np.unique(np.append(np.arange(0, lines, 10), lines - 1))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<noise>
{header.xml()}  <noiseRangeVectorList count="{len(vectors)}">
{vec}  </noiseRangeVectorList>
  <noiseAzimuthVectorList count="1">
    <noiseAzimuthVector>
      <swath>{header.swath}</swath>
      <firstAzimuthLine>0</firstAzimuthLine>
      <firstRangeSample>0</firstRangeSample>
      <lastAzimuthLine>{lines - 1}</lastAzimuthLine>
      <lastRangeSample>{samples - 1}</lastRangeSample>
      <line count="{az_lines.size}">{ints(az_lines)}</line>
      <noiseAzimuthLut count="{az_lines.size}">{nums(np.ones(az_lines.size))}</noiseAzimuthLut>
    </noiseAzimuthVector>
  </noiseAzimuthVectorList>
</noise>
""".encode()
