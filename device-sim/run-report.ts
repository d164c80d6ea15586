// The report of a finished run, from the options and the devices' final state.
import type { SimDevice } from './device.ts';
import type { SimOptions } from './options.ts';
import { GENERATOR_VERSION } from './plan.ts';
import { type DeviceReport, REPORT_FORMAT, type SimReport, totalsOf } from './report.ts';

export function buildReport(
  opts: SimOptions,
  devices: readonly SimDevice[],
  run: { readonly startedAtMs: number; readonly endedAtMs: number; readonly interrupted: boolean },
): SimReport {
  const deviceReports = devices.map(toDeviceReport);
  return {
    format: REPORT_FORMAT,
    runId: opts.idPrefix,
    generatorVersion: GENERATOR_VERSION,
    startedAt: new Date(run.startedAtMs).toISOString(),
    endedAt: new Date(run.endedAtMs).toISOString(),
    startedAtMs: run.startedAtMs,
    endedAtMs: run.endedAtMs,
    interrupted: run.interrupted,
    config: {
      broker: opts.broker,
      username: opts.username ?? null,
      mix: opts.mix,
      devices: opts.devices,
      rates: opts.rates,
      durationMs: opts.durationMs,
      count: opts.count,
      qos: opts.qos,
      rampUpMs: opts.rampUpMs,
      connectConcurrency: opts.connectConcurrency,
      churnPerMin: opts.churnPerMin,
      churnDowntimeMs: opts.churnDowntimeMs,
      invalidRatio: opts.invalidRatio,
      oversizeRatio: opts.oversizeRatio,
      oversizeBytes: opts.oversizeBytes,
      maxInflight: opts.maxInflight,
      seed: opts.seed,
      modelStartMs: opts.modelStartMs,
      timeWarp: opts.timeWarp,
      center: opts.center,
      idPrefix: opts.idPrefix,
    },
    totals: totalsOf(deviceReports),
    devices: deviceReports,
  };
}

function toDeviceReport(d: SimDevice): DeviceReport {
  return {
    index: d.index,
    fleet: d.fleet,
    clientId: d.clientId,
    deviceId: d.deviceId,
    topic: d.topic,
    sent: d.seq,
    acked: d.acked.ranges(),
    invalid: { sent: d.invalidSent, acked: d.invalidAcked },
    oversize: d.oversizeSent,
    skipped: d.skipped,
    connects: d.connects,
    drops: d.drops,
    disconnects: d.disconnects,
    republished: d.republished,
    firstConnectedAt: d.firstConnectedAt,
    lastError: d.lastError,
  };
}
