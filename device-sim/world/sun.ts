// Where the sun is: street lights switch on by it, and the day/night rhythm of a city follows it.
// NOAA's low-precision formulas (accurate to a fraction of a degree, plenty for a photocell).
import type { LatLon } from './geo.ts';

const RAD = Math.PI / 180;

/** Solar elevation above the horizon in degrees at `timeMs` (UTC epoch ms) and `where`. */
export function sunElevationDeg(timeMs: number, where: LatLon): number {
  const days = timeMs / 86_400_000 - 10_957.5; // days since J2000.0 (2000-01-01 12:00 UTC)
  const meanLon = (280.46 + 0.9856474 * days) % 360;
  const meanAnomaly = ((357.528 + 0.9856003 * days) % 360) * RAD;
  const eclipticLon = (meanLon + 1.915 * Math.sin(meanAnomaly) + 0.02 * Math.sin(2 * meanAnomaly)) * RAD;
  const obliquity = (23.439 - 0.0000004 * days) * RAD;
  const declination = Math.asin(Math.sin(obliquity) * Math.sin(eclipticLon));
  const rightAscension = Math.atan2(Math.cos(obliquity) * Math.sin(eclipticLon), Math.cos(eclipticLon));
  const gmstHours = (18.697374558 + 24.06570982441908 * days) % 24;
  const hourAngle = (gmstHours * 15 + where.lonDeg) * RAD - rightAscension;
  const lat = where.latDeg * RAD;
  const sinElevation =
    Math.sin(lat) * Math.sin(declination) + Math.cos(lat) * Math.cos(declination) * Math.cos(hourAngle);
  return Math.asin(Math.max(-1, Math.min(1, sinElevation))) / RAD;
}
