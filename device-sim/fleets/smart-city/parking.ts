// Parking bay group: occupied bays out of its capacity. Cars arrive and leave one by one (a
// birth–death process) around a target that follows who parks there: commuters by day,
// residents by night, shoppers in the afternoon.
import { clamp } from '../../random.ts';
import { type LocalTime, localTime } from '../../world/daily.ts';
import { battery, type SensorContext, type SensorStep } from './sensor.ts';
import type { ParkingPattern } from './sites.ts';

const MEAN_STAY_S = 2 * 3600;
const SETTLE_S = 20 * 60;

function bump(hour: number, center: number, width: number): number {
  return Math.exp(-0.5 * ((hour - center) / width) ** 2);
}

export function targetOccupancy(pattern: ParkingPattern, t: LocalTime): number {
  const weekend = t.weekday === 0 || t.weekday === 6;
  switch (pattern) {
    case 'commuter':
      return weekend ? 0.2 + 0.3 * bump(t.hour, 14, 3) : 0.12 + 0.83 * bump(t.hour, 12.5, 3.3);
    case 'residential':
      return 0.92 - (weekend ? 0.25 : 0.5) * bump(t.hour, 13, 3.5);
    case 'retail':
      return 0.08 + (weekend ? 0.9 : 0.75) * bump(t.hour, 15, 2.8);
  }
}

export function parkingSensor(ctx: SensorContext, offsetMin: number, startMs: number): SensorStep {
  const { rng, site, stepS } = ctx;
  const capacity = rng.int(8, 120);
  const drain = battery(rng, stepS);
  let occupied = Math.round(targetOccupancy(site.parking, localTime(startMs, offsetMin)) * capacity);
  return (timeMs) => {
    const target = targetOccupancy(site.parking, localTime(timeMs, offsetMin)) * capacity;
    const leaving = rng.poisson((occupied * stepS) / MEAN_STAY_S);
    const arrivingMean =
      (target * stepS) / MEAN_STAY_S + (target - occupied) * (1 - Math.exp(-stepS / SETTLE_S));
    const arriving = rng.poisson(Math.max(0, arrivingMean));
    occupied = clamp(occupied + arriving - leaving, 0, capacity);
    return { parkingOccupied: occupied, parkingCapacity: capacity, batteryPct: drain() };
  };
}
