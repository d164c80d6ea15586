// The simulator's report: the run's settings (enough to regenerate every reading) and, per
// device, what it sent and which sequence numbers the gateway acknowledged, as ranges.
// Format (JSON, one device per line):
//   { "format": "weir-sim-report/1", "runId", "generatorVersion", "startedAt", "endedAt",
//     "interrupted", "config": { … SimOptions without secrets … }, "totals": { … },
//     "devices": [ { "index", "fleet", "clientId", "deviceId", "topic", "sent",
//                    "acked": [[first, last], …], "invalid": {"sent", "acked"}, "oversize",
//                    "skipped", "connects", "drops", "disconnects", "republished", "firstConnectedAt",
//                    "lastError" }, … ] }
// `sent` readings carry seq 1…sent; `acked` lists the acknowledged ones (empty for QoS 0).
import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { FLEET_NAMES } from './fleets/fleet.ts';

export const REPORT_FORMAT = 'weir-sim-report/1';

const fleetName = z.enum(FLEET_NAMES);
const range = z
  .tuple([z.int().positive(), z.int().positive()])
  .refine(([a, b]) => a <= b, 'range start > end');

const configSchema = z.object({
  broker: z.string(),
  username: z.string().nullable(),
  mix: z.partialRecord(fleetName, z.number().nonnegative()),
  devices: z.int().positive(),
  rates: z.record(fleetName, z.number().positive()),
  durationMs: z.number().nullable(),
  count: z.int().nullable(),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  rampUpMs: z.number(),
  connectConcurrency: z.int(),
  churnPerMin: z.number(),
  churnDowntimeMs: z.number(),
  invalidRatio: z.number(),
  oversizeRatio: z.number(),
  oversizeBytes: z.int(),
  maxInflight: z.int(),
  seed: z.int(),
  modelStartMs: z.number(),
  timeWarp: z.number().positive(),
  center: z.object({ latDeg: z.number(), lonDeg: z.number() }),
  idPrefix: z.string(),
});

const deviceSchema = z.object({
  index: z.int().nonnegative(),
  fleet: fleetName,
  clientId: z.string(),
  deviceId: z.string(),
  topic: z.string(),
  sent: z.int().nonnegative(),
  acked: z.array(range),
  invalid: z.object({ sent: z.int().nonnegative(), acked: z.int().nonnegative() }),
  oversize: z.int().nonnegative(),
  skipped: z.int().nonnegative(),
  connects: z.int().nonnegative(),
  drops: z.int().nonnegative(),
  disconnects: z.int().nonnegative(),
  /** Messages published again because mqtt.js gave them up when a connection dropped. */
  republished: z.int().nonnegative().default(0),
  firstConnectedAt: z.number().nullable(),
  /** The last connection or publish error, e.g. "ECONNREFUSED: connect ECONNREFUSED 10.0.0.5:1883". */
  lastError: z.string().nullable().default(null),
});

const totalsSchema = z.object({
  devices: z.int(),
  neverConnected: z.int(),
  sent: z.int(),
  acked: z.int(),
  unacked: z.int(),
  invalidSent: z.int(),
  invalidAcked: z.int(),
  oversizeSent: z.int(),
  skipped: z.int(),
  connects: z.int(),
  reconnects: z.int(),
  drops: z.int(),
  disconnects: z.int(),
  republished: z.int().default(0),
});

export const reportSchema = z.object({
  format: z.literal(REPORT_FORMAT),
  runId: z.string(),
  generatorVersion: z.int(),
  startedAt: z.string(),
  endedAt: z.string(),
  startedAtMs: z.number(),
  endedAtMs: z.number(),
  interrupted: z.boolean(),
  config: configSchema,
  totals: totalsSchema,
  devices: z.array(deviceSchema),
});

export type SimReport = z.infer<typeof reportSchema>;
export type DeviceReport = z.infer<typeof deviceSchema>;
export type ReportConfig = z.infer<typeof configSchema>;
export type ReportTotals = z.infer<typeof totalsSchema>;

export class ReportError extends Error {
  readonly code: 'WEIR_REPORT_UNREADABLE' | 'WEIR_REPORT_INVALID';
  constructor(code: ReportError['code'], message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ReportError';
    this.code = code;
  }
}

export function totalsOf(devices: readonly DeviceReport[]): ReportTotals {
  const t: ReportTotals = {
    devices: devices.length,
    neverConnected: 0,
    sent: 0,
    acked: 0,
    unacked: 0,
    invalidSent: 0,
    invalidAcked: 0,
    oversizeSent: 0,
    skipped: 0,
    connects: 0,
    reconnects: 0,
    drops: 0,
    disconnects: 0,
    republished: 0,
  };
  for (const d of devices) {
    if (d.connects === 0) t.neverConnected++;
    t.sent += d.sent;
    for (const [a, b] of d.acked) t.acked += b - a + 1;
    t.invalidSent += d.invalid.sent;
    t.invalidAcked += d.invalid.acked;
    t.oversizeSent += d.oversize;
    t.skipped += d.skipped;
    t.connects += d.connects;
    t.reconnects += Math.max(0, d.connects - 1);
    t.drops += d.drops;
    t.disconnects += d.disconnects;
    t.republished += d.republished;
  }
  t.unacked = t.sent - t.acked;
  return t;
}

/** JSON with one device per line: readable, diffable, and still small for 10,000 devices. */
export function serializeReport(report: SimReport): string {
  const { devices, ...head } = report;
  const top = JSON.stringify(head, null, 2);
  const rows = devices.map((d) => `    ${JSON.stringify(d)}`).join(',\n');
  return `${top.slice(0, -2)},\n  "devices": [\n${rows}\n  ]\n}\n`;
}

/** Writes atomically (temp file, then rename), so a reader never sees half a report. */
export async function writeReport(path: string, report: SimReport): Promise<void> {
  const tmp = `${path}.${randomUUID().slice(0, 8)}.tmp`;
  await writeFile(tmp, serializeReport(report));
  await rename(tmp, path);
}

export async function readReport(path: string): Promise<SimReport> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ReportError(
      'WEIR_REPORT_UNREADABLE',
      `cannot read the report ${path}: ${(cause as Error).message}`,
      cause,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ReportError('WEIR_REPORT_INVALID', `${path} is not JSON: ${(cause as Error).message}`, cause);
  }
  const parsed = reportSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new ReportError(
      'WEIR_REPORT_INVALID',
      `${path} is not a weir sim report (${REPORT_FORMAT}): ${first}`,
    );
  }
  return parsed.data;
}
