// A Sink that answers as the test scripts it — each send ok, retry, rejected or not at all (until
// released), each probe ok, refused or not at all — and remembers what it was sent and what it
// acknowledged; and a forwarder wired to a batcher as main.ts wires it, with timings shortened
// to milliseconds. For the unit tests of the forwarder and the spool pump.
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Batcher } from '../../gateway/batcher/batcher.ts';
import type { Batch, BatchOutcome, OutboundRecord, Sink } from '../../gateway/contracts.ts';
import { Forwarder, type ForwarderOptions } from '../../gateway/forwarder/forwarder.ts';
import { createMetrics } from '../../gateway/metrics.ts';

export type Answer = 'ok' | 'retry' | 'rejected' | 'hang';
/** One send call's answer: the same for every batch, or per batch. */
export type SendScript = Answer | ((batch: Batch) => Exclude<Answer, 'hang'>);

export class ScriptedSink implements Sink {
  readonly name = 'scripted';
  /** Answers of the send calls, in order; once used up, every send is answered ok. */
  readonly script: SendScript[];
  /** What each send call carried: topic and record values (as strings) per batch. */
  readonly sends: Array<Array<{ topic: string; values: string[] }>> = [];
  /** Records answered ok, in the order Kafka would have them. */
  readonly delivered: Array<{ topic: string; value: string }> = [];
  inFlight = 0;
  maxInFlight = 0;
  /** How the next probes are answered. */
  probeAnswer: 'ok' | 'fail' | 'hang' = 'ok';
  probes = 0;
  readonly #hungSends: Array<(script: SendScript) => void> = [];
  readonly #hungProbes: Array<() => void> = [];

  constructor(script: SendScript[] = []) {
    this.script = script;
  }

  async connect(): Promise<void> {}

  async send(batches: readonly Batch[]): Promise<BatchOutcome[]> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const call = this.sends.length;
    this.sends.push(batches.map((b) => ({ topic: b.topic, values: b.records.map(textOf) })));
    let script = this.script[call] ?? 'ok';
    if (script === 'hang') script = await new Promise<SendScript>((resolve) => this.#hungSends.push(resolve));
    this.inFlight--;
    return batches.map((b) => {
      const answer = typeof script === 'function' ? script(b) : script;
      if (answer === 'ok') {
        for (const r of b.records) this.delivered.push({ topic: b.topic, value: textOf(r) });
        return { status: 'ok' };
      }
      if (answer === 'rejected')
        return { status: 'rejected', reason: 'record too large', error: new Error('MESSAGE_TOO_LARGE') };
      return { status: 'retry', error: new Error('broker not available') };
    });
  }

  /** Answers the oldest send that hangs. */
  release(script: SendScript = 'ok'): void {
    const resolve = this.#hungSends.shift();
    assert.ok(resolve, 'no send is hanging');
    resolve(script);
  }

  probe(): Promise<void> {
    this.probes++;
    if (this.probeAnswer === 'ok') return Promise.resolve();
    if (this.probeAnswer === 'fail') return Promise.reject(new Error('connection refused'));
    return new Promise((resolve) => this.#hungProbes.push(resolve));
  }

  /** Lets the probes that hang answer (late: their deadline has passed). */
  releaseProbes(): void {
    for (const resolve of this.#hungProbes.splice(0)) resolve();
  }

  async close(): Promise<void> {}
}

export const textOf = (r: OutboundRecord): string => r.value.toString();

export const DEAD_LETTER_TOPIC = 'dead-letters';

/**
 * A forwarder from `batcher` to `sink`, wired as main.ts wires it, with backoff, probe interval
 * and probe deadline in milliseconds; stopped when the test ends. A dead letter's value says
 * which record it stands for: `dead letter of <topic>/<value>: <reason>`.
 */
export function startForwarder(
  t: { after(fn: () => void): void },
  batcher: Batcher,
  sink: Sink,
  options: Partial<ForwarderOptions> = {},
) {
  const metrics = createMetrics({ routes: ['r'], version: 'test' });
  const forwarder = new Forwarder({
    batcher,
    sink,
    deadLetterTopic: DEAD_LETTER_TOPIC,
    toDeadLetter: (topic, r, reason) => ({
      ...r,
      value: Buffer.from(`dead letter of ${topic}/${textOf(r)}: ${reason}`),
    }),
    log: pino({ level: 'silent' }),
    metrics,
    initialBackoffMs: 1,
    maxBackoffMs: 4,
    probeIntervalMs: 2,
    probeTimeoutMs: 20,
    ...options,
  });
  batcher.onReady = () => forwarder.sendSoon();
  t.after(() => forwarder.stop());
  return { forwarder, metrics };
}

/** Waits until `done` is true, polling every millisecond; fails after `timeoutMs`. */
export async function waitUntil(what: string, done: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
