// Reports of simulator runs that did not happen, for testing verify: real device plans (ids,
// topics, reading models from the seed), with the sent and acknowledged counts a test chooses.
import { FLEET_NAMES, type FleetName } from '../../device-sim/fleets/fleet.ts';
import type { FleetMix } from '../../device-sim/mix.ts';
import { DEFAULT_CENTER } from '../../device-sim/options.ts';
import { GENERATOR_VERSION, type ModelSettings, planDevices } from '../../device-sim/plan.ts';
import { type DeviceReport, REPORT_FORMAT, type SimReport, totalsOf } from '../../device-sim/report.ts';

export interface SyntheticRun {
  readonly devices: number;
  readonly sent: number;
  /** Acknowledged ranges per device (default: all of 1…sent). */
  readonly acked?: (index: number) => Array<[number, number]>;
  readonly seed?: number;
  readonly idPrefix?: string;
  readonly mix?: FleetMix;
  readonly qos?: 0 | 1 | 2;
  readonly startedAtMs?: number;
}

export function modelSettings(seed: number): ModelSettings {
  return {
    seed,
    modelStartMs: Date.parse('2026-09-01T07:00:00Z'),
    timeWarp: 1,
    center: DEFAULT_CENTER,
    rates: Object.fromEntries(FLEET_NAMES.map((f) => [f, 1])) as Record<FleetName, number>,
  };
}

export function syntheticReport(run: SyntheticRun): SimReport {
  const seed = run.seed ?? 1;
  const settings = modelSettings(seed);
  const idPrefix = run.idPrefix ?? 'simtest';
  const mix = run.mix ?? { 'smart-city': 1, 'factory-line': 1, 'vehicle-gps': 1 };
  const plans = planDevices({ ...settings, mix, devices: run.devices, idPrefix });
  const devices: DeviceReport[] = plans.map((p) => ({
    index: p.index,
    fleet: p.fleet,
    clientId: p.deviceId,
    deviceId: p.deviceId,
    topic: p.model.topic,
    sent: run.sent,
    acked: run.qos === 0 ? [] : (run.acked?.(p.index) ?? [[1, run.sent]]),
    invalid: { sent: 0, acked: 0 },
    oversize: 0,
    skipped: 0,
    connects: 1,
    drops: 0,
    disconnects: 0,
    republished: 0,
    firstConnectedAt: 0,
    lastError: null,
  }));
  const startedAtMs = run.startedAtMs ?? Date.now();
  return {
    format: REPORT_FORMAT,
    runId: idPrefix,
    generatorVersion: GENERATOR_VERSION,
    startedAt: new Date(startedAtMs).toISOString(),
    endedAt: new Date(startedAtMs + 1000).toISOString(),
    startedAtMs,
    endedAtMs: startedAtMs + 1000,
    interrupted: false,
    config: {
      broker: 'mqtt://127.0.0.1:1883',
      username: null,
      mix,
      devices: run.devices,
      rates: settings.rates,
      durationMs: null,
      count: run.sent,
      qos: run.qos ?? 1,
      rampUpMs: 0,
      connectConcurrency: 100,
      churnPerMin: 0,
      churnDowntimeMs: 5000,
      invalidRatio: 0,
      oversizeRatio: 0,
      oversizeBytes: 300_000,
      maxInflight: 100,
      seed,
      modelStartMs: settings.modelStartMs,
      timeWarp: settings.timeWarp,
      center: settings.center,
      idPrefix,
    },
    totals: totalsOf(devices),
    devices,
  };
}
