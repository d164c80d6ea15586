// Who the simulated devices are: fleet, id and reading model of each, derived only from the run's
// settings. `weir verify` calls the same functions with the settings from the report to
// regenerate every reading and compare it with what Kafka holds.

import type { DeviceModel, FleetName } from './fleets/fleet.ts';
import { FLEETS } from './fleets/index.ts';
import { assignFleets, type FleetMix } from './mix.ts';
import { Random } from './random.ts';
import type { LatLon } from './world/geo.ts';

/** Bumped whenever a fleet model changes what it generates for the same seed. */
export const GENERATOR_VERSION = 1;

export interface ModelSettings {
  readonly seed: number;
  readonly modelStartMs: number;
  readonly timeWarp: number;
  readonly center: LatLon;
  readonly rates: Readonly<Record<FleetName, number>>;
}

export interface DevicePlan {
  readonly index: number;
  readonly fleet: FleetName;
  readonly deviceId: string;
  readonly periodMs: number;
  readonly model: DeviceModel;
}

export function deviceIdFor(prefix: string, fleet: FleetName, index: number, total: number): string {
  const width = Math.max(4, String(total).length);
  return `${prefix}-${FLEETS[fleet].idTag}-${String(index + 1).padStart(width, '0')}`;
}

export function createModel(
  settings: ModelSettings,
  fleet: FleetName,
  index: number,
  deviceId: string,
): DeviceModel {
  return FLEETS[fleet].create({
    deviceId,
    rng: Random.derive(settings.seed, 'model', index),
    center: settings.center,
    startMs: settings.modelStartMs,
    stepS: settings.timeWarp / settings.rates[fleet],
  });
}

export function planDevices(
  settings: ModelSettings & { readonly mix: FleetMix; readonly devices: number; readonly idPrefix: string },
): DevicePlan[] {
  const fleets = assignFleets(settings.mix, settings.devices);
  return fleets.map((fleet, index) => {
    const deviceId = deviceIdFor(settings.idPrefix, fleet, index, settings.devices);
    return {
      index,
      fleet,
      deviceId,
      periodMs: 1000 / settings.rates[fleet],
      model: createModel(settings, fleet, index, deviceId),
    };
  });
}
