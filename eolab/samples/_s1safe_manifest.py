"""manifest.safe of a simulated Sentinel-1 IW SLC (XFDU, the namespaces xarray-sentinel reads)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from eolab.samples._s1safe_xml import utc

_REP_PREFIX = {
    "s1Level1ProductSchema": "product",
    "s1Level1NoiseSchema": "noise",
    "s1Level1CalibrationSchema": "calibration",
}
_NAMESPACES = (
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:gml="http://www.opengis.net/gml" '
    'xmlns:xfdu="urn:ccsds:schema:xfdu:1" xmlns:safe="http://www.esa.int/safe/sentinel-1.0" '
    'xmlns:s1="http://www.esa.int/safe/sentinel-1.0/sentinel-1" '
    'xmlns:s1sar="http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar" '
    'xmlns:s1sarl1="http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1" '
    'version="esa/safe/sentinel-1.0/sentinel-1/sar/level-1/slc/standard/iwdp"'
)


def _object_id(rep: str, href: str) -> str:
    stem = href.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", "")
    return _REP_PREFIX.get(rep, "") + stem


def _unit(rep: str, href: str) -> str:
    kind = "Measurement Data Unit" if rep.endswith("MeasurementSchema") else "Metadata Unit"
    return (
        f'      <xfdu:contentUnit unitType="{kind}" repID="{rep}">\n'
        f'        <dataObjectPointer dataObjectID="{_object_id(rep, href)}"/>\n'
        "      </xfdu:contentUnit>\n"
    )


def _object(rep: str, href: str, data: bytes) -> str:
    mime = "application/octet-stream" if href.endswith(".tiff") else "text/xml"
    return (
        f'    <dataObject ID="{_object_id(rep, href)}" repID="{rep}">\n'
        f'      <byteStream mimeType="{mime}" size="{len(data)}">\n'
        f'        <fileLocation locatorType="URL" href="{href}"/>\n'
        f'        <checksum checksumName="MD5">{hashlib.md5(data).hexdigest()}</checksum>\n'
        "      </byteStream>\n    </dataObject>\n"
    )


_PACKAGE = (
    'textInfo="Sentinel-1 IW Level-1 SLC Product" dmdID="acquisitionPeriod platform '
    'generalProductInformation measurementOrbitReference measurementFrameSet" '
    'pdiID="processing"'
)
_FACILITY = (
    'country="-" name="eolab.samples.s1safe (SIMULATED product)" organisation="eolab" site="-"'
)
_GPI = 'mimeType="text/xml" vocabularyName="SAFE" textInfo="General Product Information"'
_POL = "s1sarl1:transmitterReceiverPolarisation"
_CLASS = "SAR Standard L1 Product (SIMULATED)"


@dataclass
class ManifestInfo:
    mission: str
    swath: str
    pol: str
    absolute_orbit: int
    relative_orbit: int
    anx: datetime
    datatake: int
    start: datetime
    stop: datetime
    footprint: list[tuple[float, float]]  # (lat, lon)
    files: list[tuple[str, str, bytes]]  # (repID, href, content), annotations first


def manifest_xml(m: ManifestInfo) -> bytes:
    units = "".join(_unit(rep, href) for rep, href, _ in m.files)
    objects = "".join(_object(rep, href, data) for rep, href, data in m.files)
    fp = " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in m.footprint)
    number = m.mission[-1]
    anx_start = (m.start - m.anx).total_seconds() * 1e3
    anx_stop = (m.stop - m.anx).total_seconds() * 1e3
    stop = utc(m.stop)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xfdu:XFDU {_NAMESPACES}>
  <informationPackageMap>
    <xfdu:contentUnit unitType="SAFE Archive Information Package" {_PACKAGE}>
{units}    </xfdu:contentUnit>
  </informationPackageMap>
  <metadataSection>
    <metadataObject ID="processing" classification="PROVENANCE" category="PDI">
      <metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Processing">
        <xmlData>
          <safe:processing name="SLC Post Processing" start="{stop}" stop="{stop}">
            <safe:facility {_FACILITY}>
              <safe:software name="eolab" version="simulated"/>
            </safe:facility>
          </safe:processing>
        </xmlData>
      </metadataWrap>
    </metadataObject>
    <metadataObject ID="platform" classification="DESCRIPTION" category="DMD">
      <metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Platform Description">
        <xmlData>
          <safe:platform>
            <safe:nssdcIdentifier>2014-016A</safe:nssdcIdentifier>
            <safe:familyName>SENTINEL-1</safe:familyName>
            <safe:number>{number}</safe:number>
            <safe:instrument>
              <safe:familyName abbreviation="SAR">Synthetic Aperture Radar</safe:familyName>
              <safe:extension>
                <s1sarl1:instrumentMode>
                  <s1sarl1:mode>IW</s1sarl1:mode>
                  <s1sarl1:swath>{m.swath}</s1sarl1:swath>
                </s1sarl1:instrumentMode>
              </safe:extension>
            </safe:instrument>
          </safe:platform>
        </xmlData>
      </metadataWrap>
    </metadataObject>
    <metadataObject ID="measurementOrbitReference" classification="DESCRIPTION" category="DMD">
      <metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Orbit Reference">
        <xmlData>
          <safe:orbitReference>
            <safe:orbitNumber type="start">{m.absolute_orbit}</safe:orbitNumber>
            <safe:orbitNumber type="stop">{m.absolute_orbit}</safe:orbitNumber>
            <safe:relativeOrbitNumber type="start">{m.relative_orbit}</safe:relativeOrbitNumber>
            <safe:relativeOrbitNumber type="stop">{m.relative_orbit}</safe:relativeOrbitNumber>
            <safe:cycleNumber>{(m.absolute_orbit - 73) // 175 + 1}</safe:cycleNumber>
            <safe:phaseIdentifier>1</safe:phaseIdentifier>
            <safe:extension>
              <s1:orbitProperties>
                <s1:pass>DESCENDING</s1:pass>
                <s1:ascendingNodeTime>{utc(m.anx)}</s1:ascendingNodeTime>
              </s1:orbitProperties>
            </safe:extension>
          </safe:orbitReference>
        </xmlData>
      </metadataWrap>
    </metadataObject>
    <metadataObject ID="generalProductInformation" classification="DESCRIPTION" category="DMD">
      <metadataWrap {_GPI}>
        <xmlData>
          <s1sarl1:standAloneProductInformation>
            <s1sarl1:instrumentConfigurationID>6</s1sarl1:instrumentConfigurationID>
            <s1sarl1:missionDataTakeID>{m.datatake}</s1sarl1:missionDataTakeID>
            <{_POL}>{m.pol}</{_POL}>
            <s1sarl1:productClass>S</s1sarl1:productClass>
            <s1sarl1:productClassDescription>{_CLASS}</s1sarl1:productClassDescription>
            <s1sarl1:productComposition>Individual</s1sarl1:productComposition>
            <s1sarl1:productType>SLC</s1sarl1:productType>
            <s1sarl1:productTimelinessCategory>Fast-24h</s1sarl1:productTimelinessCategory>
            <s1sarl1:sliceProductFlag>false</s1sarl1:sliceProductFlag>
          </s1sarl1:standAloneProductInformation>
        </xmlData>
      </metadataWrap>
    </metadataObject>
    <metadataObject ID="acquisitionPeriod" classification="DESCRIPTION" category="DMD">
      <metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Acquisition Period">
        <xmlData>
          <safe:acquisitionPeriod>
            <safe:startTime>{utc(m.start)}</safe:startTime>
            <safe:stopTime>{utc(m.stop)}</safe:stopTime>
            <safe:extension>
              <s1:timeANX>
                <s1:startTimeANX>{anx_start:.6e}</s1:startTimeANX>
                <s1:stopTimeANX>{anx_stop:.6e}</s1:stopTimeANX>
              </s1:timeANX>
            </safe:extension>
          </safe:acquisitionPeriod>
        </xmlData>
      </metadataWrap>
    </metadataObject>
    <metadataObject ID="measurementFrameSet" classification="DESCRIPTION" category="DMD">
      <metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Frame Set">
        <xmlData>
          <safe:frameSet>
            <safe:frame>
              <safe:footPrint srsName="http://www.opengis.net/gml/srs/epsg.xml#4326">
                <gml:coordinates>{fp}</gml:coordinates>
              </safe:footPrint>
            </safe:frame>
          </safe:frameSet>
        </xmlData>
      </metadataWrap>
    </metadataObject>
  </metadataSection>
  <dataObjectSection>
{objects}  </dataObjectSection>
</xfdu:XFDU>
""".encode()
