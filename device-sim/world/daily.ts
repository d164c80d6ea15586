// The daily rhythm of a city in local time: traffic with a morning and an evening rush hour,
// general activity (noise), weekends quieter in the morning. Profiles return 0–1.
import type { LatLon } from './geo.ts';

/**
 * Offset of local civil time from UTC for a place, in minutes: the solar time zone
 * (longitude / 15°, whole hours). Derived from the place — not from the machine — so a run is
 * reproducible anywhere.
 */
export function utcOffsetMin(where: LatLon): number {
  return Math.round(where.lonDeg / 15) * 60;
}

export interface LocalTime {
  /** Fractional hour of the day, 0 ≤ h < 24. */
  readonly hour: number;
  /** 0 = Sunday … 6 = Saturday. */
  readonly weekday: number;
}

export function localTime(timeMs: number, offsetMin: number): LocalTime {
  const local = timeMs + offsetMin * 60_000;
  const dayMs = ((local % 86_400_000) + 86_400_000) % 86_400_000;
  const days = Math.floor(local / 86_400_000);
  return { hour: dayMs / 3_600_000, weekday: (((days + 4) % 7) + 7) % 7 }; // 1970-01-01 was a Thursday
}

function bump(hour: number, center: number, width: number): number {
  // Distance on the 24 h circle, so a bump near midnight wraps.
  let d = Math.abs(hour - center);
  if (d > 12) d = 24 - d;
  return Math.exp(-0.5 * (d / width) ** 2);
}

const isWeekend = (t: LocalTime) => t.weekday === 0 || t.weekday === 6;

/** Road traffic intensity: night ≈ 0.05, rush hours ≈ 1. */
export function trafficProfile(t: LocalTime): number {
  const weekend = isWeekend(t);
  const morning = (weekend ? 0.25 : 0.95) * bump(t.hour, 8, 1.1);
  const evening = (weekend ? 0.45 : 0.85) * bump(t.hour, 17.5, 1.6);
  const daytime = (weekend ? 0.55 : 0.5) * bump(t.hour, 13.5, 3.2);
  return Math.min(1, 0.04 + morning + evening + daytime);
}

/** General human activity (shops, people, building sites): night ≈ 0.1, afternoon ≈ 1. */
export function activityProfile(t: LocalTime): number {
  const day = bump(t.hour, 14, 4.2);
  const nightlife = (isWeekend(t) ? 0.25 : 0.1) * bump(t.hour, 23, 1.5);
  return Math.min(1, 0.08 + 0.9 * day + nightlife);
}
