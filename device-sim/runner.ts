// The simulator run: plans the devices, connects them (ramp-up, bounded concurrency, backoff with
// jitter for reconnects), drives every device's publishing from one scheduler — a heap of timed
// events and one 10 ms tick instead of a timer per device — injects the faults, then stops
// publishing, waits (bounded) for outstanding acknowledgements, disconnects and reports.
import type { IClientOptions } from 'mqtt';
import { closeAll } from './close-all.ts';
import { ConnectQueue } from './connect-queue.ts';
import { SimCounters } from './counters.ts';
import { type DeviceEvents, type PublishSettings, SimDevice } from './device.ts';
import { MinHeap } from './heap.ts';
import type { SimOptions } from './options.ts';
import { planDevices } from './plan.ts';
import { Random } from './random.ts';
import type { SimReport } from './report.ts';
import { buildReport } from './run-report.ts';
import { type StatusSnapshot, statusLine } from './status.ts';

const TICK_MS = 10;
const STATUS_EVERY_MS = 1000;
const CONNECT_TIMEOUT_MS = 30_000;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

interface ScheduledEvent {
  at: number;
  device: SimDevice;
  kind: 'publish' | 'connect';
}

export interface RunHooks {
  /** Receives the status line once a second. */
  readonly status?: (line: string) => void;
  /** Stops publishing early (first Ctrl-C); the run then drains and reports as usual. */
  readonly stop?: AbortSignal;
  /** Gives up waiting for acknowledgements (second Ctrl-C). */
  readonly abandon?: AbortSignal;
}

export interface SimRun {
  readonly report: SimReport;
  /** Every device connected and every QoS 1/2 message was acknowledged. */
  readonly ok: boolean;
}

export async function runSimulation(opts: SimOptions, hooks: RunHooks = {}): Promise<SimRun> {
  const counters = new SimCounters();
  const plans = planDevices(opts);
  const devices = plans.map((p) => new SimDevice(p, opts.seed, counters));
  const startedAtMs = Date.now();
  const t0 = performance.now();
  const churnRng = Random.derive(opts.seed, 'churn');
  const jitterRng = Random.derive(opts.seed, 'jitter');
  const settings: PublishSettings = {
    qos: opts.qos,
    invalidRatio: opts.invalidRatio,
    oversizeRatio: opts.oversizeRatio,
    oversizeBytes: opts.oversizeBytes,
    maxInflight: opts.maxInflight,
  };
  const clientOptions: IClientOptions = {
    protocolVersion: 4,
    keepalive: opts.keepaliveS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    ...(opts.username !== undefined && { username: opts.username }),
    ...(opts.password !== undefined && { password: opts.password }),
  };

  const heap = new MinHeap<ScheduledEvent>();
  let phase: 'running' | 'draining' | 'done' = 'running';
  let drainStartedAt = 0;
  let finishedDevices = 0;
  let lastChurnAt = t0;

  const countReached = (d: SimDevice) => opts.count !== null && d.messages >= opts.count;
  const needsConnection = (d: SimDevice) =>
    phase === 'running'
      ? d.status !== 'closed'
      : phase === 'draining' && d.status !== 'new' && d.inflight > 0;

  const queue = new ConnectQueue<SimDevice>(opts.connectConcurrency, (d) => {
    if (!needsConnection(d) || (d.status !== 'new' && d.status !== 'offline')) return false;
    d.connect(opts.broker, clientOptions, events);
    return true;
  });

  const reconnectLater = (d: SimDevice, delayMs: number) => {
    heap.push({ at: performance.now() + delayMs, device: d, kind: 'connect' });
  };
  const backoff = (d: SimDevice) =>
    Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** d.attempt++) * jitterRng.range(0.5, 1.5);

  const events: DeviceEvents = {
    online(d) {
      queue.done();
      counters.connected++;
      counters.connects++;
      if (d.connects === 1) counters.everConnected++;
      if (!d.scheduled && phase === 'running' && !countReached(d)) {
        d.scheduled = true;
        const offset = Random.derive(opts.seed, 'phase', d.index).float() * d.periodMs;
        heap.push({ at: performance.now() + offset, device: d, kind: 'publish' });
      }
    },
    connectFailed(d) {
      queue.done();
      counters.connectFailures++;
      reconnectLater(d, backoff(d));
    },
    offline(d, planned) {
      counters.connected--;
      if (planned) counters.drops++;
      else counters.disconnects++;
      reconnectLater(d, planned ? opts.churnDowntimeMs * jitterRng.range(0.5, 1.5) : backoff(d));
    },
  };

  const publish = (e: ScheduledEvent, now: number) => {
    const d = e.device;
    if (phase !== 'running' || d.status === 'closed') {
      d.scheduled = false;
      return;
    }
    d.publishNext(settings);
    if (countReached(d)) {
      d.scheduled = false;
      finishedDevices++;
      return;
    }
    // Keep the device's cadence; if the process fell behind by more than a period, resume from now.
    const next = e.at + d.periodMs;
    e.at = next < now ? now + d.periodMs : next;
    heap.push(e);
  };

  const churn = (now: number) => {
    const elapsedS = (now - lastChurnAt) / 1000;
    if (elapsedS < 1) return;
    lastChurnAt = now;
    if (opts.churnPerMin <= 0 || phase !== 'running') return;
    const drops = churnRng.poisson((opts.churnPerMin / 60) * counters.connected * elapsedS);
    for (let k = 0; k < drops; k++) {
      for (let tries = 0; tries < 20; tries++) {
        const d = devices[churnRng.int(0, devices.length - 1)]!;
        if (d.status === 'online') {
          d.dropAfterNextPublish();
          break;
        }
      }
    }
  };

  for (let i = 0; i < devices.length; i++) {
    heap.push({ at: t0 + (i * opts.rampUpMs) / devices.length, device: devices[i]!, kind: 'connect' });
  }

  let prev: StatusSnapshot = { atMs: t0, sent: 0, acked: 0 };
  const statusTimer = setInterval(() => {
    const now = performance.now();
    const label =
      phase === 'draining' ? 'draining' : counters.everConnected < devices.length ? 'connecting' : 'running';
    hooks.status?.(statusLine(counters, devices.length, now - t0, prev, now, label));
    prev = { atMs: now, sent: counters.sent, acked: counters.acked };
  }, STATUS_EVERY_MS);

  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      for (let e = heap.peek(); e !== undefined && e.at <= now; e = heap.peek()) {
        heap.pop();
        if (e.kind === 'publish') publish(e, now);
        else if (needsConnection(e.device)) queue.add(e.device);
      }
      churn(now);
      if (phase === 'running') {
        const timeUp = opts.durationMs !== null && now - t0 >= opts.durationMs;
        const allCounted = opts.count !== null && finishedDevices === devices.length;
        if (timeUp || allCounted || hooks.stop?.aborted) {
          phase = 'draining';
          drainStartedAt = now;
        }
      }
      if (phase === 'draining') {
        const drained = counters.inflight === 0;
        if (drained || now - drainStartedAt >= opts.drainTimeoutMs || hooks.abandon?.aborted) {
          phase = 'done';
          resolve();
          return;
        }
      }
      setTimeout(tick, TICK_MS);
    };
    tick();
  });
  clearInterval(statusTimer);
  queue.clear();

  await closeAll(devices);
  counters.connected = 0;
  const endedAtMs = Date.now();
  hooks.status?.(
    statusLine(counters, devices.length, performance.now() - t0, prev, performance.now(), 'done'),
  );

  const report = buildReport(opts, devices, {
    startedAtMs,
    endedAtMs,
    interrupted: hooks.stop?.aborted ?? false,
  });
  const t = report.totals;
  const allAcked = opts.qos === 0 || (t.unacked === 0 && t.invalidAcked === t.invalidSent);
  return { report, ok: t.neverConnected === 0 && allAcked };
}
