// Is weir doing its job? The checks behind /status, /readyz and the status page: pure functions
// of readings taken over the status window, so they can be tested without a gateway.
//
// A gateway is `ok` only when nothing below applies. Each finding is a condition with a stable
// code (monitoring may match on it) and a sentence for people:
//
//   failing (not ready: /readyz answers 503)
//     mqtt_not_listening   the MQTT listener is not accepting connections
//     spool_not_writable   the spool directory cannot be written (read-only file system, no
//                          permission) or a spool write/fsync failed within the window
//   degraded (ready: devices are still taken in, but data is at risk or late)
//     kafka_down           the last produce to Kafka failed, or Kafka answered no probe (a
//                          metadata request every second) within kafka.requestTimeoutMs — a hung
//                          broker too, traffic or not; records wait in the spool
//     not_delivering       records are waiting but none reached Kafka for the whole window
//                          (Kafka hung, before its request timeout says so)
//     backlog_growing      the spool holds more records than a window ago and its oldest is
//                          older than the window: Kafka takes less than devices send
//     spool_nearly_full    the spool uses 90 % or more of spool.maxBytes
//     backpressure         devices were made to wait (spool or memory buffer full) for at least
//                          half of the window
//     dropping             messages were dropped within the window (by reason)
//     disk_low             the spool's disk will fill up before the spool reaches spool.maxBytes,
//                          and less than two segments of space are left
//     registry_unreachable the schema registry is out of reach and weir still needs a schema id
//                          from it: records of that schema wait in the spool (none are lost or
//                          dead-lettered); they flow once it answers
//     schema_refused       the registry refuses a schema weir writes (incompatible, credentials,
//                          not registered with autoRegister off): its records wait until the
//                          registry accepts it
import type { DiskReading } from './disk.ts';

export type Phase = 'starting' | 'running' | 'stopping';
export type State = 'starting' | 'ok' | 'degraded' | 'failing' | 'stopping';
export type Severity = 'degraded' | 'failing';
export type ConditionCode =
  | 'mqtt_not_listening'
  | 'spool_not_writable'
  | 'kafka_down'
  | 'not_delivering'
  | 'backlog_growing'
  | 'spool_nearly_full'
  | 'backpressure'
  | 'dropping'
  | 'disk_low'
  | 'registry_unreachable'
  | 'schema_refused';

export interface Condition {
  readonly code: ConditionCode;
  readonly severity: Severity;
  readonly message: string;
}

export interface SpoolReading {
  readonly dir: string;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  /** Records written and not yet acknowledged by Kafka. */
  readonly records: number;
  readonly oldestAgeMs: number;
  /** Appends waiting for space (whenFull: block). */
  readonly waitingAppends: number;
  readonly whenFull: string;
}

/** What the gateway reports at one moment. Cheap and synchronous: taken every second. */
export interface Reading {
  readonly phase: Phase;
  readonly mqttListening: boolean;
  readonly kafkaUp: boolean;
  /** Why Kafka is down, when weir knows: the WeirError code of the last failure. */
  readonly kafkaErrorCode?: string | null;
  readonly connectedDevices: number;
  /** Per route (config order, then no_route): totals since start, all QoS. */
  readonly routes: ReadonlyArray<{
    readonly name: string;
    readonly messages: number;
    readonly bytes: number;
  }>;
  /** Records Kafka acknowledged since start (dead letters included). */
  readonly recordsOut: number;
  readonly deadLetters: Readonly<Record<string, number>>;
  readonly dropped: Readonly<Record<string, number>>;
  readonly spool: SpoolReading | null;
  /** Record bytes held in memory between intake and Kafka, and the bound. */
  readonly buffer: { readonly bytes: number; readonly maxBytes: number; readonly waiting: number };
  readonly spoolIoErrors: number;
  /** The schema registry's side; null (or absent) without a registry. */
  readonly registry?: {
    readonly up: boolean;
    readonly errorCode: string | null;
    /** Subjects whose schema id weir still needs. */
    readonly waiting: readonly string[];
    /** One sentence per schema the registry refuses. */
    readonly refused: readonly string[];
  } | null;
}

/** A reading and when it was taken (performance.now(), ms). */
export interface Sample {
  readonly at: number;
  readonly reading: Reading;
}

export interface Assessment {
  readonly state: State;
  readonly ready: boolean;
  readonly conditions: readonly Condition[];
}

export const NEARLY_FULL = 0.9;

/**
 * `now` is the current sample; `window` the samples of the status window, oldest first (they may
 * include `now`); `disk` the latest disk probe.
 */
export function assess(
  now: Sample,
  window: readonly Sample[],
  disk: DiskReading | null,
  windowMs: number,
): Assessment {
  const r = now.reading;
  if (r.phase !== 'running') return { state: r.phase, ready: false, conditions: [] };
  const base = window.find((s) => s.at < now.at) ?? null;
  const elapsedMs = base === null ? 0 : now.at - base.at;
  const c: Condition[] = [];
  const add = (code: ConditionCode, severity: Severity, message: string) =>
    c.push({ code, severity, message });

  if (!r.mqttListening)
    add('mqtt_not_listening', 'failing', 'The MQTT listener is not accepting connections.');
  if (r.spool !== null) {
    if (disk !== null && !disk.writable)
      add(
        'spool_not_writable',
        'failing',
        `The spool directory ${r.spool.dir} cannot be written (${disk.problem}).`,
      );
    else if (base !== null && r.spoolIoErrors > base.reading.spoolIoErrors)
      add(
        'spool_not_writable',
        'failing',
        `${r.spoolIoErrors - base.reading.spoolIoErrors} spool write or fsync failures in the last ${seconds(elapsedMs)}; the messages concerned were not acknowledged.`,
      );
  }

  const keptIn = r.spool !== null ? 'the spool' : 'memory';
  if (!r.kafkaUp) {
    const why = KAFKA_DOWN_BECAUSE[r.kafkaErrorCode ?? ''] ?? 'Kafka is unreachable or failing';
    add('kafka_down', 'degraded', `${why}; records wait in ${keptIn} and are sent when it is back.`);
  } else if (base !== null && elapsedMs >= windowMs * 0.9 && r.recordsOut === base.reading.recordsOut) {
    if (backlogOf(r) > 0 && backlogOf(base.reading) > 0)
      add(
        'not_delivering',
        'degraded',
        `Records are waiting but none reached Kafka in the last ${seconds(elapsedMs)}.`,
      );
  }

  const reg = r.registry;
  if (reg != null) {
    if (!reg.up && reg.waiting.length > 0)
      add(
        'registry_unreachable',
        'degraded',
        `The schema registry is out of reach${reg.errorCode === null ? '' : ` (${reg.errorCode})`}; records of ${reg.waiting.length === 1 ? 'subject' : 'subjects'} ${reg.waiting.join(', ')} wait in ${keptIn} for their schema id and are sent when it answers.`,
      );
    for (const sentence of reg.refused)
      add(
        'schema_refused',
        'degraded',
        `${sentence}; its records wait in ${keptIn} until the registry accepts it.`,
      );
  }

  if (r.spool !== null) {
    const s = r.spool;
    if (base?.reading.spool && s.records > base.reading.spool.records && s.oldestAgeMs >= windowMs)
      add(
        'backlog_growing',
        'degraded',
        `The spool backlog grew by ${s.records - base.reading.spool.records} records in the last ${seconds(elapsedMs)}; the oldest waits for ${seconds(s.oldestAgeMs)}.`,
      );
    if (s.bytes >= s.maxBytes * NEARLY_FULL)
      add(
        'spool_nearly_full',
        'degraded',
        `The spool uses ${Math.floor((s.bytes / s.maxBytes) * 100)} % of spool.maxBytes; when full it will ${fullMeans(s.whenFull)}.`,
      );
    if (disk?.freeBytes != null) {
      const room = s.maxBytes - s.bytes;
      if (disk.freeBytes < room && disk.freeBytes < 2 * s.segmentBytes)
        add(
          'disk_low',
          'degraded',
          `Only ${mib(disk.freeBytes)} left on the spool's disk, less than the spool may still use (${mib(room)}).`,
        );
    }
  }

  const samples = window.includes(now) ? window : [...window, now];
  const waited = samples.filter((s) => waiting(s.reading) !== null).length;
  const cause = waiting(r) ?? waiting(samples[samples.length - 2]?.reading);
  if (samples.length >= 2 && waited * 2 >= samples.length && cause !== null)
    add(
      'backpressure',
      'degraded',
      cause === 'spool_full'
        ? 'Devices are made to wait: the spool is full (whenFull: block) and nothing is acknowledged until Kafka takes records.'
        : 'Devices are made to wait: the memory buffer between intake and Kafka is full (batch.maxBufferedBytes).',
    );

  if (base !== null) {
    const parts: string[] = [];
    let total = 0;
    for (const [reason, n] of Object.entries(r.dropped)) {
      const d = n - (base.reading.dropped[reason] ?? 0);
      if (reason === 'shutdown' || d <= 0) continue;
      total += d;
      parts.push(`${reason} ${d}`);
    }
    if (total > 0)
      add(
        'dropping',
        'degraded',
        `${total} messages dropped in the last ${seconds(elapsedMs)} (${parts.join(', ')}).`,
      );
  }

  const state: State = c.some((x) => x.severity === 'failing') ? 'failing' : c.length > 0 ? 'degraded' : 'ok';
  return { state, ready: state !== 'failing', conditions: c };
}

/** Why devices wait right now, or null. */
export function waiting(r: Reading | undefined): 'spool_full' | 'memory_full' | null {
  if (r === undefined) return null;
  if (r.spool !== null && r.spool.waitingAppends > 0) return 'spool_full';
  if (r.buffer.waiting > 0) return 'memory_full';
  return null;
}

function backlogOf(r: Reading): number {
  return r.spool !== null ? r.spool.records : r.buffer.bytes;
}

function fullMeans(whenFull: string): string {
  if (whenFull === 'dropOldest') return 'drop its oldest records';
  if (whenFull === 'dropNewest') return 'refuse new records';
  return 'make devices wait (no PUBACK)';
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** What a kafka_down condition says when the failure has a known cause. */
const KAFKA_DOWN_BECAUSE: Readonly<Record<string, string>> = {
  WEIR_KAFKA_AUTH: "Kafka refuses weir's SASL credentials (WEIR_KAFKA_AUTH; check kafka.sasl)",
  WEIR_KAFKA_TLS: "The Kafka broker's certificate does not verify (WEIR_KAFKA_TLS; check kafka.tls)",
  WEIR_KAFKA_TIMEOUT:
    'Kafka does not answer within kafka.requestTimeoutMs (WEIR_KAFKA_TIMEOUT; the broker may be hung or overloaded)',
};
