// Positions: WGS 84 degrees for what devices report, local east/north metres for what they do.
// Within a city (tens of km) the equirectangular approximation is accurate to centimetres.

export interface LatLon {
  readonly latDeg: number;
  readonly lonDeg: number;
}

/** Local planar coordinates in metres, east and north of a reference point. */
export interface Enu {
  readonly e: number;
  readonly n: number;
}

const EARTH_RADIUS_M = 6_371_008.8;
const RAD = Math.PI / 180;

export function toLatLon(origin: LatLon, p: Enu): LatLon {
  const latDeg = origin.latDeg + p.n / EARTH_RADIUS_M / RAD;
  const lonDeg = origin.lonDeg + p.e / (EARTH_RADIUS_M * Math.cos(origin.latDeg * RAD)) / RAD;
  return { latDeg, lonDeg };
}

export function toEnu(origin: LatLon, p: LatLon): Enu {
  return {
    e: (p.lonDeg - origin.lonDeg) * RAD * EARTH_RADIUS_M * Math.cos(origin.latDeg * RAD),
    n: (p.latDeg - origin.latDeg) * RAD * EARTH_RADIUS_M,
  };
}

/** Great-circle distance in metres (haversine). */
export function distanceM(a: LatLon, b: LatLon): number {
  const dLat = (b.latDeg - a.latDeg) * RAD;
  const dLon = (b.lonDeg - a.lonDeg) * RAD;
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(a.latDeg * RAD) * Math.cos(b.latDeg * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Compass bearing of a planar direction: degrees clockwise from north, in [0, 360). */
export function bearingDeg(de: number, dn: number): number {
  const deg = Math.atan2(de, dn) / RAD;
  return deg < 0 ? deg + 360 : deg;
}

/** Smallest difference between two bearings, in [0, 180]. */
export function bearingDiffDeg(a: number, b: number): number {
  const d = Math.abs(a - b) % 360;
  return d > 180 ? 360 - d : d;
}

/** Parses "52.52,13.405". */
export function parseLatLon(text: string): LatLon | null {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
  if (m === null) return null;
  const latDeg = Number(m[1]);
  const lonDeg = Number(m[2]);
  if (Math.abs(latDeg) > 85 || Math.abs(lonDeg) > 180) return null;
  return { latDeg, lonDeg };
}
