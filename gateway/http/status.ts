// The status of a running gateway, as /status, /readyz and the status page show it. A monitor
// takes a reading of the gateway every second and keeps those of the status window; rates are
// the change of the counters across the window, and the checks in assess.ts compare the window's
// first and last readings. Answering a request takes one more reading, so what /status says is
// current to the moment.
import { type Assessment, assess, type ConditionCode, type Reading, type Sample, waiting } from './assess.ts';
import type { DiskReading } from './disk.ts';

export interface StatusMonitorOptions {
  readonly gatewayId: string;
  readonly version: string;
  readonly windowSeconds: number;
  /** Takes a reading of the gateway; must be cheap and must not throw. */
  readonly read: () => Reading;
  /** The Kafka brokers the gateway is configured with (kafka.brokers). */
  readonly kafkaBrokers?: readonly string[];
  /** Why Kafka is not reachable, in one sentence; null while it is. */
  readonly kafkaProblem?: () => string | null;
  /** Probes the spool's disk (when there is a spool). */
  readonly probeDisk?: (() => Promise<DiskReading>) | undefined;
  /** How often a reading is kept, ms (default 1000). */
  readonly sampleEveryMs?: number;
  /** How often the disk is probed, ms (default 5000). */
  readonly probeDiskEveryMs?: number;
  /** One point of rate history per this many ms (default 5000; 120 points are kept). */
  readonly historyEveryMs?: number;
}

/** The JSON of /status. Field names are stable; new fields may be added. */
export interface GatewayStatus {
  readonly state: Assessment['state'];
  readonly ready: boolean;
  readonly conditions: ReadonlyArray<{
    readonly code: ConditionCode;
    readonly severity: 'degraded' | 'failing';
    readonly message: string;
    /** When the condition was first seen (it has held at every check since). */
    readonly since: string;
  }>;
  readonly gateway: {
    readonly id: string;
    readonly version: string;
    readonly startedAt: string;
    readonly uptimeSeconds: number;
    readonly time: string;
  };
  /** The span the rates cover (shorter than configured just after start). */
  readonly windowSeconds: number;
  readonly in: { messages: number; bytes: number; messagesPerSecond: number; bytesPerSecond: number };
  readonly out: { records: number; recordsPerSecond: number };
  readonly routes: ReadonlyArray<{
    name: string;
    messages: number;
    bytes: number;
    messagesPerSecond: number;
    bytesPerSecond: number;
  }>;
  /** `problem`: why Kafka is not reachable, in one sentence (null while it is). */
  readonly kafka: { up: boolean; since: string; brokers: string[]; problem: string | null };
  readonly devices: { connected: number };
  readonly backlog: {
    /** Where records wait for Kafka: the disk spool, or memory when the spool is off. */
    where: 'spool' | 'memory';
    bytes: number;
    maxBytes: number;
    /** null in memory (not counted there). */
    records: number | null;
    oldestAgeSeconds: number | null;
    whenFull: string | null;
    diskFreeBytes: number | null;
  };
  readonly backpressure: { active: boolean; cause: 'spool_full' | 'memory_full' | null };
  readonly deadLetters: { total: number; byReason: Record<string, number> };
  readonly dropped: { total: number; byReason: Record<string, number> };
  /** Rates of the last minutes, oldest first, one point per `intervalSeconds` (for the page's chart). */
  readonly history: { intervalSeconds: number; in: number[]; out: number[] };
}

const HISTORY_POINTS = 120; // 10 minutes at the default interval

export class StatusMonitor {
  readonly #o: StatusMonitorOptions;
  readonly #windowMs: number;
  readonly #startedAt = Date.now();
  readonly #startedMono = performance.now();
  #samples: Sample[] = [];
  #disk: DiskReading | null = null;
  #probing = false;
  #lastProbe = -Infinity;
  #probedPhase: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  readonly #since = new Map<ConditionCode, number>();
  #kafka: { up: boolean; since: number } | null = null;
  #historyFrom: Sample | null = null;
  readonly #history = { in: [] as number[], out: [] as number[] };

  constructor(opts: StatusMonitorOptions) {
    this.#o = opts;
    this.#windowMs = opts.windowSeconds * 1000;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), this.#o.sampleEveryMs ?? 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  status(): GatewayStatus {
    const now = this.#sample();
    return this.#render(now, this.#samples);
  }

  #tick(): void {
    const now = this.#sample();
    this.#samples.push(now);
    // Keep the window plus the sample just before it, so a full window is always covered.
    const from = now.at - this.#windowMs;
    while (this.#samples.length > 2 && this.#samples[1]!.at <= from) this.#samples.shift();
    this.#render(now, this.#samples); // keeps `since` of conditions current between requests
    this.#record(now);
    const probe = this.#o.probeDisk;
    if (now.reading.phase !== this.#probedPhase) {
      // The spool directory may not exist before the spool opens: a reading taken while starting
      // says nothing about the running gateway. Forget it and probe again now.
      this.#probedPhase = now.reading.phase;
      this.#disk = null;
      this.#lastProbe = Number.NEGATIVE_INFINITY;
    }
    if (
      probe !== undefined &&
      !this.#probing &&
      now.at - this.#lastProbe >= (this.#o.probeDiskEveryMs ?? 5000)
    ) {
      this.#probing = true;
      this.#lastProbe = now.at;
      const phase = this.#probedPhase;
      probe().then(
        (d) => {
          if (this.#probedPhase === phase) this.#disk = d;
          this.#probing = false;
        },
        () => {
          this.#probing = false;
        },
      );
    }
  }

  /** One point of history per interval: the rates in and out across it. */
  #record(now: Sample): void {
    const from = this.#historyFrom;
    if (from === null) {
      this.#historyFrom = now;
      return;
    }
    const every = this.#o.historyEveryMs ?? 5000;
    if (now.at - from.at < every * 0.98) return;
    const span = (now.at - from.at) / 1000;
    const total = (r: Reading) => r.routes.reduce((n, x) => n + x.messages, 0);
    this.#history.in.push(round((total(now.reading) - total(from.reading)) / span));
    this.#history.out.push(round((now.reading.recordsOut - from.reading.recordsOut) / span));
    if (this.#history.in.length > HISTORY_POINTS) {
      this.#history.in.shift();
      this.#history.out.shift();
    }
    this.#historyFrom = now;
  }

  #sample(): Sample {
    return { at: performance.now(), reading: this.#o.read() };
  }

  #render(now: Sample, samples: readonly Sample[]): GatewayStatus {
    const r = now.reading;
    const wall = Date.now();
    const window = samples.filter((s) => s.at < now.at);
    // A disk reading taken in another phase (before the spool opened) is not used.
    const disk = this.#probedPhase === r.phase ? this.#disk : null;
    const a = assess(now, window, disk, this.#windowMs);
    // Conditions keep the time they were first seen while they hold.
    for (const code of this.#since.keys())
      if (!a.conditions.some((c) => c.code === code)) this.#since.delete(code);
    for (const c of a.conditions) if (!this.#since.has(c.code)) this.#since.set(c.code, wall);
    if (this.#kafka === null || this.#kafka.up !== r.kafkaUp) this.#kafka = { up: r.kafkaUp, since: wall };

    const base = window[0] ?? null;
    const span = base === null ? 0 : (now.at - base.at) / 1000;
    const rate = (nowValue: number, baseValue: number | undefined) =>
      span > 0 && baseValue !== undefined ? round((nowValue - baseValue) / span) : 0;
    const baseRoutes = new Map(base?.reading.routes.map((x) => [x.name, x]));
    const routes = r.routes.map((x) => ({
      name: x.name,
      messages: x.messages,
      bytes: x.bytes,
      messagesPerSecond: rate(x.messages, baseRoutes.get(x.name)?.messages ?? 0),
      bytesPerSecond: rate(x.bytes, baseRoutes.get(x.name)?.bytes ?? 0),
    }));
    const sum = (xs: readonly { messages: number; bytes: number }[]) =>
      xs.reduce((t, x) => ({ messages: t.messages + x.messages, bytes: t.bytes + x.bytes }), {
        messages: 0,
        bytes: 0,
      });
    const totalIn = sum(r.routes);
    const baseIn = base === null ? undefined : sum(base.reading.routes);
    const s = r.spool;
    const cause = waiting(r);
    return {
      state: a.state,
      ready: a.ready,
      conditions: a.conditions.map((c) => ({ ...c, since: iso(this.#since.get(c.code)!) })),
      gateway: {
        id: this.#o.gatewayId,
        version: this.#o.version,
        startedAt: iso(this.#startedAt),
        uptimeSeconds: Math.floor((now.at - this.#startedMono) / 1000),
        time: iso(wall),
      },
      windowSeconds: round(span),
      in: {
        ...totalIn,
        messagesPerSecond: rate(totalIn.messages, baseIn?.messages),
        bytesPerSecond: rate(totalIn.bytes, baseIn?.bytes),
      },
      out: { records: r.recordsOut, recordsPerSecond: rate(r.recordsOut, base?.reading.recordsOut) },
      routes,
      kafka: {
        up: r.kafkaUp,
        since: iso(this.#kafka.since),
        brokers: [...(this.#o.kafkaBrokers ?? [])],
        problem: r.kafkaUp ? null : (this.#o.kafkaProblem?.() ?? null),
      },
      devices: { connected: r.connectedDevices },
      backlog:
        s !== null
          ? {
              where: 'spool',
              bytes: s.bytes,
              maxBytes: s.maxBytes,
              records: s.records,
              oldestAgeSeconds: round(s.oldestAgeMs / 1000),
              whenFull: s.whenFull,
              diskFreeBytes: this.#disk?.freeBytes ?? null,
            }
          : {
              where: 'memory',
              bytes: r.buffer.bytes,
              maxBytes: r.buffer.maxBytes,
              records: null,
              oldestAgeSeconds: null,
              whenFull: null,
              diskFreeBytes: null,
            },
      backpressure: { active: cause !== null, cause },
      deadLetters: totals(r.deadLetters),
      dropped: totals(r.dropped),
      history: {
        intervalSeconds: (this.#o.historyEveryMs ?? 5000) / 1000,
        in: [...this.#history.in],
        out: [...this.#history.out],
      },
    };
  }
}

function totals(byReason: Readonly<Record<string, number>>): {
  total: number;
  byReason: Record<string, number>;
} {
  let total = 0;
  for (const n of Object.values(byReason)) total += n;
  return { total, byReason: { ...byReason } };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
