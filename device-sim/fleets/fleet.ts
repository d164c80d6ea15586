// What a fleet is to the simulator: how to name and place its devices, which topic they publish
// to, and a model per device that produces one reading at a time. Models are deterministic: the
// same context (seed stream, start time, step) gives the same readings, whatever the wall clock
// does — `weir verify` relies on that to regenerate what a device sent.
import type { Random } from '../random.ts';
import type { LatLon } from '../world/geo.ts';

export const FLEET_NAMES = ['smart-city', 'factory-line', 'vehicle-gps'] as const;
export type FleetName = (typeof FLEET_NAMES)[number];

export function isFleetName(s: string): s is FleetName {
  return (FLEET_NAMES as readonly string[]).includes(s);
}

export interface DeviceContext {
  readonly deviceId: string;
  /** The device's own random stream. */
  readonly rng: Random;
  /** Centre of the simulated city (sensor sites, vehicle roads, sun position). */
  readonly center: LatLon;
  /** Model time of the first reading, UTC epoch milliseconds. */
  readonly startMs: number;
  /** Model seconds between two readings: the device's period times the time warp. */
  readonly stepS: number;
}

export interface DeviceModel {
  /** The MQTT topic the device publishes to; matches the fleet's route in deploy/weir.example.yaml. */
  readonly topic: string;
  /**
   * The next reading: payload fields other than `seq` and `ts` (the device adds those). Each call
   * advances model time by one step.
   */
  next(): Record<string, unknown>;
}

export interface Fleet {
  readonly name: FleetName;
  /** Short word used in device ids (`sim1a2b3c-city-0042`). */
  readonly idTag: string;
  readonly summary: string;
  /** Schema file in schemas/. */
  readonly schemaFile: string;
  /** Kafka topic of the fleet's route in the sample config. */
  readonly defaultKafkaTopic: string;
  /** Messages per second per device unless --rate says otherwise. */
  readonly defaultRatePerS: number;
  /** A field whose value, given the wrong type, makes a payload a schema mismatch. */
  readonly typedField: string;
  create(ctx: DeviceContext): DeviceModel;
}
