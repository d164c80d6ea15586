// Districts of the simulated city, placed around its centre. Each has its own character:
// how polluted and busy it is, how loud, and who parks there when.
import type { Enu } from '../../world/geo.ts';

export type ParkingPattern = 'commuter' | 'residential' | 'retail';

export interface Site {
  readonly name: string;
  readonly offset: Enu;
  readonly radiusM: number;
  /** Multiplies background particulate levels. */
  readonly pollution: number;
  /** Multiplies road traffic (and with it NO2). */
  readonly traffic: number;
  /** Added to noise levels, dB. */
  readonly noiseDb: number;
  readonly parking: ParkingPattern;
}

export const SITES: readonly Site[] = [
  {
    name: 'centre',
    offset: { e: 0, n: 0 },
    radiusM: 1200,
    pollution: 1.25,
    traffic: 1.2,
    noiseDb: 4,
    parking: 'commuter',
  },
  {
    name: 'old-town',
    offset: { e: -1500, n: 900 },
    radiusM: 900,
    pollution: 1.0,
    traffic: 0.8,
    noiseDb: 2,
    parking: 'retail',
  },
  {
    name: 'harbour',
    offset: { e: 2500, n: -2200 },
    radiusM: 1500,
    pollution: 1.35,
    traffic: 0.9,
    noiseDb: 3,
    parking: 'commuter',
  },
  {
    name: 'university',
    offset: { e: -2800, n: -1800 },
    radiusM: 1100,
    pollution: 0.85,
    traffic: 0.8,
    noiseDb: 0,
    parking: 'commuter',
  },
  {
    name: 'riverside',
    offset: { e: 1800, n: 2400 },
    radiusM: 1300,
    pollution: 0.8,
    traffic: 0.6,
    noiseDb: -2,
    parking: 'residential',
  },
  {
    name: 'north-park',
    offset: { e: 300, n: 4200 },
    radiusM: 1500,
    pollution: 0.7,
    traffic: 0.5,
    noiseDb: -5,
    parking: 'residential',
  },
];
