// What every smart-city sensor model gets, and the slowly draining battery some of them have.
import type { Random } from '../../random.ts';
import { round } from '../../random.ts';
import type { LatLon } from '../../world/geo.ts';
import type { Site } from './sites.ts';

export const SENSOR_TYPES = ['air', 'noise', 'traffic', 'parking', 'light'] as const;
export type SensorType = (typeof SENSOR_TYPES)[number];

export interface SensorContext {
  readonly rng: Random;
  readonly site: Site;
  readonly position: LatLon;
  readonly stepS: number;
}

/** One reading's sensor-specific fields at model time `timeMs`. */
export type SensorStep = (timeMs: number) => Record<string, number | boolean | null>;

/** A battery lasting about two years, replaced when it runs low. */
export function battery(rng: Random, stepS: number): () => number {
  const lifeS = rng.range(1.5, 2.5) * 365 * 86_400;
  let level = rng.range(20, 100);
  return () => {
    level -= (100 * stepS) / lifeS;
    if (level < 5) level = 100;
    return round(level, 1);
  };
}

/** An AR(1) process: mean-reverting noise with correlation time `tauS` and spread `sd`. */
export function drift(rng: Random, stepS: number, tauS: number, sd: number): () => number {
  const phi = Math.exp(-stepS / tauS);
  const kick = sd * Math.sqrt(1 - phi * phi);
  let x = rng.normal(0, sd);
  return () => {
    x = phi * x + rng.normal(0, kick);
    return x;
  };
}
