// `weir sim` options: defaults, parsing from the command line, and validation that lists every
// problem at once. Pure — the CLI passes in the clock and the random seed it would use.
import { parseArgs } from 'node:util';
import { FLEET_NAMES, type FleetName, isFleetName } from './fleets/fleet.ts';
import { FLEETS } from './fleets/index.ts';
import { type FleetMix, MIXED, parseMix } from './mix.ts';
import { parseDuration, parseIntInRange, parseRate, parseRatio, parseWeights } from './parse.ts';
import { type LatLon, parseLatLon } from './world/geo.ts';

export interface SimOptions {
  readonly broker: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly mix: FleetMix;
  readonly devices: number;
  /** Messages per second per device, by fleet. */
  readonly rates: Readonly<Record<FleetName, number>>;
  /** Stop publishing after this long (from the start of the run); null: until --count or Ctrl-C. */
  readonly durationMs: number | null;
  /** Messages per device; null: no limit. */
  readonly count: number | null;
  readonly qos: 0 | 1 | 2;
  readonly rampUpMs: number;
  readonly connectConcurrency: number;
  /** Share of the devices that drop offline per minute (abruptly, without DISCONNECT). */
  readonly churnPerMin: number;
  readonly churnDowntimeMs: number;
  readonly invalidRatio: number;
  readonly oversizeRatio: number;
  readonly oversizeBytes: number;
  /** Unacknowledged messages a device holds; when full, it skips readings (counted). */
  readonly maxInflight: number;
  readonly seed: number;
  /** Model clock of the first reading (day/night rhythm, sun), UTC epoch ms. */
  readonly modelStartMs: number;
  /** Model seconds per real second. */
  readonly timeWarp: number;
  readonly center: LatLon;
  readonly idPrefix: string;
  readonly reportPath: string;
  readonly drainTimeoutMs: number;
  readonly keepaliveS: number;
  readonly quiet: boolean;
}

export const DEFAULT_REPORT = 'weir-sim-report.json';
export const DEFAULT_CENTER: LatLon = { latDeg: 52.52, lonDeg: 13.405 };

export type ParsedSimArgs =
  | { readonly ok: true; readonly options: SimOptions; readonly help: false }
  | { readonly ok: true; readonly help: true }
  | { readonly ok: false; readonly problems: readonly string[] };

export interface SimArgsContext {
  readonly nowMs: number;
  readonly randomSeed: number;
  readonly randomRunId: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function parseSimArgs(args: readonly string[], ctx: SimArgsContext): ParsedSimArgs {
  let values: ReturnType<typeof parseRaw>['values'];
  try {
    const parsed = parseRaw(args);
    if (parsed.positionals.length > 0) {
      return { ok: false, problems: [`unexpected argument '${parsed.positionals[0]}'`] };
    }
    values = parsed.values;
  } catch (err) {
    return { ok: false, problems: [(err as Error).message] };
  }
  if (values.help) return { ok: true, help: true };
  const problems: string[] = [];
  const need = <T>(value: T | null, problem: string): T | null => {
    if (value === null) problems.push(problem);
    return value;
  };

  let mix: FleetMix = MIXED;
  if (values.fleet !== undefined) {
    const r = parseMix(values.fleet);
    if ('problem' in r) problems.push(`--fleet: ${r.problem}`);
    else mix = r.mix;
  }
  const devices =
    values.devices === undefined
      ? 30
      : need(
          parseIntInRange(values.devices, 1, 1_000_000),
          `--devices must be an integer ≥ 1, not '${values.devices}'`,
        );

  const rates = Object.fromEntries(FLEET_NAMES.map((f) => [f, FLEETS[f].defaultRatePerS])) as Record<
    FleetName,
    number
  >;
  if (values.rate !== undefined) {
    const single = parseRate(values.rate);
    if (single !== null) for (const f of FLEET_NAMES) rates[f] = single;
    else {
      const entries = parseWeights(values.rate, parseRate);
      if (entries === null) {
        problems.push(
          `--rate: cannot read '${values.rate}' (e.g. 2, 2/s, 30/min, or factory-line=10,smart-city=1)`,
        );
      } else {
        for (const [name, rate] of entries) {
          if (!isFleetName(name)) problems.push(`--rate: unknown fleet '${name}'`);
          else rates[name] = rate;
        }
      }
    }
  }
  const duration = (flag: string, text: string | undefined, dflt: number | null, min = 0): number | null => {
    if (text === undefined) return dflt;
    const ms = parseDuration(text);
    if (ms === null || ms < min) {
      problems.push(`${flag}: '${text}' is not a duration (e.g. 500ms, 30s, 5m, 1h)`);
      return dflt;
    }
    return ms;
  };
  const ratio = (flag: string, text: string | undefined): number => {
    if (text === undefined) return 0;
    const r = parseRatio(text);
    if (r === null) problems.push(`${flag} must be between 0 and 1 (or 0%–100%), not '${text}'`);
    return r ?? 0;
  };
  const durationMs = duration('--duration', values.duration, null, 1);
  const count =
    values.count === undefined
      ? null
      : need(
          parseIntInRange(values.count, 1, Number.MAX_SAFE_INTEGER),
          `--count must be an integer ≥ 1, not '${values.count}'`,
        );
  const qosText = values.qos ?? '1';
  const qos = qosText === '0' ? 0 : qosText === '1' ? 1 : qosText === '2' ? 2 : null;
  if (qos === null) problems.push(`--qos must be 0, 1 or 2, not '${qosText}'`);

  const broker = values.broker ?? 'mqtt://127.0.0.1:1883';
  if (!/^(mqtts?|wss?|tcp|ssl):\/\/[^/\s]+/.test(broker)) {
    problems.push(`--broker must be a URL like mqtt://host:1883, not '${broker}'`);
  }
  const invalidRatio = ratio('--invalid-ratio', values['invalid-ratio']);
  const oversizeRatio = ratio('--oversize-ratio', values['oversize-ratio']);
  if (invalidRatio + oversizeRatio > 0.9)
    problems.push('--invalid-ratio and --oversize-ratio together must stay below 0.9');
  const churnPerMin = ratio('--churn', values.churn);

  let seed = ctx.randomSeed;
  if (values.seed !== undefined) {
    const s = parseIntInRange(values.seed, 0, 2 ** 32 - 1);
    if (s === null) problems.push(`--seed must be an integer 0–4294967295, not '${values.seed}'`);
    else seed = s;
  }
  let modelStartMs = ctx.nowMs;
  if (values['start-time'] !== undefined) {
    const t = Date.parse(values['start-time']);
    if (Number.isNaN(t))
      problems.push(`--start-time: '${values['start-time']}' is not a date (e.g. 2026-06-21T08:00:00Z)`);
    else modelStartMs = t;
  }
  let timeWarp = 1;
  if (values['time-warp'] !== undefined) {
    const w = Number(values['time-warp']);
    if (!Number.isFinite(w) || w <= 0 || w > 100_000)
      problems.push(`--time-warp must be a number > 0, not '${values['time-warp']}'`);
    else timeWarp = w;
  }
  let center = DEFAULT_CENTER;
  if (values.center !== undefined) {
    const c = parseLatLon(values.center);
    if (c === null) problems.push(`--center must be LAT,LON in degrees, not '${values.center}'`);
    else center = c;
  }
  const idPrefix = values['id-prefix'] ?? `sim${ctx.randomRunId}`;
  if (!/^[A-Za-z0-9_.-]{1,40}$/.test(idPrefix)) {
    problems.push(
      `--id-prefix: 1–40 characters of A-Z a-z 0-9 _ . - (it becomes an MQTT topic level), not '${idPrefix}'`,
    );
  }
  const int = (flag: string, text: string | undefined, dflt: number, min: number, max: number): number => {
    if (text === undefined) return dflt;
    return (
      need(parseIntInRange(text, min, max), `${flag} must be an integer ${min}–${max}, not '${text}'`) ?? dflt
    );
  };
  const connectConcurrency = int('--connect-concurrency', values['connect-concurrency'], 100, 1, 100_000);
  const maxInflight = int('--max-inflight', values['max-inflight'], 100, 1, 65_535);
  const keepaliveS = int('--keepalive', values.keepalive, 60, 0, 65_535);
  const oversizeBytes = int('--oversize-bytes', values['oversize-bytes'], 300_000, 1, 256 * 1024 * 1024);

  const rampUpMs = duration('--ramp-up', values['ramp-up'], 0) ?? 0;
  const churnDowntimeMs = duration('--churn-downtime', values['churn-downtime'], 5000, 1) ?? 5000;
  const drainTimeoutMs = duration('--drain-timeout', values['drain-timeout'], 15_000) ?? 15_000;

  if (problems.length > 0 || devices === null || qos === null) return { ok: false, problems };
  return {
    ok: true,
    help: false,
    options: {
      broker,
      username: values.username,
      password: values.password ?? ctx.env['WEIR_SIM_PASSWORD'],
      mix,
      devices,
      rates,
      durationMs,
      count,
      qos,
      rampUpMs,
      connectConcurrency,
      churnPerMin,
      churnDowntimeMs,
      invalidRatio,
      oversizeRatio,
      oversizeBytes,
      maxInflight,
      seed,
      modelStartMs,
      timeWarp,
      center,
      idPrefix,
      reportPath: values.report ?? DEFAULT_REPORT,
      drainTimeoutMs,
      keepaliveS,
      quiet: values.quiet ?? false,
    },
  };
}

function parseRaw(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      fleet: { type: 'string' },
      devices: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      count: { type: 'string' },
      qos: { type: 'string' },
      'ramp-up': { type: 'string' },
      'connect-concurrency': { type: 'string' },
      broker: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      churn: { type: 'string' },
      'churn-downtime': { type: 'string' },
      'invalid-ratio': { type: 'string' },
      'oversize-ratio': { type: 'string' },
      'oversize-bytes': { type: 'string' },
      seed: { type: 'string' },
      'start-time': { type: 'string' },
      'time-warp': { type: 'string' },
      center: { type: 'string' },
      'id-prefix': { type: 'string' },
      'max-inflight': { type: 'string' },
      keepalive: { type: 'string' },
      report: { type: 'string' },
      'drain-timeout': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
