// Kinds of vehicles: where they drive, how, how often they stop, and what they run on.
import type { ROAD_CLASSES } from './road.ts';

export type Energy = 'fuel' | 'battery';
export type StopKind = 'traffic-light' | 'passengers' | 'delivery' | 'refuel' | 'charge';

export interface VehicleProfile {
  readonly fleetId: string;
  readonly energy: readonly Energy[];
  /** Range on a full tank or charge, km. */
  readonly rangeKm: readonly [number, number];
  readonly homeRadiusM: number;
  readonly classMix: Readonly<Record<keyof typeof ROAD_CLASSES, number>>;
  /** Fraction of the speed limit the driver aims for. */
  readonly pace: readonly [number, number];
  readonly accelMs2: number;
  /** Probability of a stop of this kind at the end of a segment, and its duration range, s. */
  readonly stops: Readonly<
    Partial<Record<StopKind, { readonly p: number; readonly s: readonly [number, number] }>>
  >;
}

export const PROFILES: Readonly<Record<'bus' | 'van' | 'taxi', VehicleProfile>> = {
  bus: {
    fleetId: 'buses',
    energy: ['fuel'],
    rangeKm: [550, 750],
    homeRadiusM: 4000,
    classMix: { residential: 1, urban: 6, arterial: 3 },
    pace: [0.8, 0.95],
    accelMs2: 1.0,
    stops: { 'traffic-light': { p: 0.3, s: [10, 45] }, passengers: { p: 0.45, s: [15, 40] } },
  },
  van: {
    fleetId: 'delivery',
    energy: ['battery'],
    rangeKm: [180, 250],
    homeRadiusM: 6000,
    classMix: { residential: 5, urban: 4, arterial: 1 },
    pace: [0.85, 1.0],
    accelMs2: 1.4,
    stops: { 'traffic-light': { p: 0.3, s: [10, 45] }, delivery: { p: 0.08, s: [90, 420] } },
  },
  taxi: {
    fleetId: 'taxis',
    energy: ['fuel', 'battery'],
    rangeKm: [350, 650],
    homeRadiusM: 7000,
    classMix: { residential: 2, urban: 5, arterial: 3 },
    pace: [0.9, 1.08],
    accelMs2: 2.0,
    stops: { 'traffic-light': { p: 0.3, s: [10, 45] }, passengers: { p: 0.06, s: [30, 150] } },
  },
};

export const VEHICLE_MIX: Readonly<Record<keyof typeof PROFILES, number>> = { bus: 3, van: 4, taxi: 3 };

/** Stops longer than this switch the engine off (ignitionOn false). */
export const ENGINE_OFF_AFTER_S = 120;
