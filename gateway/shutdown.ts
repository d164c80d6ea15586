// Stopping the gateway, and cleaning up after a start that failed.
//
// Stopping takes three steps, in this order:
//   1. Stop intake: the MQTT listeners close, so no message is accepted — or acknowledged —
//      once the drain has begun.
//   2. Drain, within shutdown.drainTimeoutMs: open batches close and are sent, backoff skipped.
//      Then the pump and the forwarder stop (a send in flight still completes) and what is still
//      held is given up with an error, which acknowledges nothing: with the spool, those records
//      stay there, not done, for the next start; without it, QoS 1/2 devices never got their
//      PUBACK and resend, and QoS 0 records are lost and counted (dropped, reason shutdown).
//      The spool closes last, after the pump that reads it.
//   3. Close: the Kafka client, then the status side.
// That order is what keeps the QoS 1 promise at shutdown.
//
// The parts are seen through the little shutdown needs of them; main.ts hands them in.
import type { Logger } from 'pino';
import type { Sink } from './contracts.ts';
import { WeirError } from './errors.ts';
import type { Metrics } from './metrics.ts';

/** Everything started so far; what has not started yet is null. */
export interface RunningParts {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly sink: Pick<Sink, 'close'>;
  readonly batcher: {
    flushAll(): void;
    drained(): Promise<void>;
    abandon(err: Error): { records: number; alreadySettled: number };
  };
  readonly forwarder: { kick(): void; stop(): void };
  readonly registry: { close(): void } | null;
  readonly spool: { readonly drained: boolean; close(): Promise<void>; stats(): { records: number } } | null;
  readonly pump: { stop(): Promise<void> } | null;
  /** The status monitor and the HTTP listener (http/ops.ts). */
  readonly ops: { readonly monitor: { stop(): void }; readonly listener: { close(): Promise<void> } | null };
}

export interface StoppingParts extends RunningParts {
  /** The MQTT source: closing it stops intake. */
  readonly source: { close(): Promise<void> };
  readonly drainTimeoutMs: number;
}

/** The three steps (above). Resolves with whether everything reached Kafka in time. */
export async function shutdown(p: StoppingParts): Promise<{ drained: boolean }> {
  const { log, metrics, spool, drainTimeoutMs: timeoutMs } = p;
  // 1. Stop intake.
  await p.source.close();
  // 2. Drain: send everything buffered, within the bound. With the spool, what is not sent
  //    in time stays there, fsync'd, for the next start.
  const drainState = { active: true };
  const drained = await withTimeout(drainedPromise(p, drainState), timeoutMs);
  drainState.active = false;
  await p.pump?.stop();
  p.forwarder.stop();
  p.registry?.close();
  const left = p.batcher.abandon(new WeirError('WEIR_SHUTDOWN', 'gateway stopped before Kafka acknowledged'));
  if (spool !== null) {
    await spool.close();
    const st = spool.stats();
    if (!drained)
      log.warn(
        { records: st.records, timeoutMs },
        'drain timeout: records left in the spool for the next start',
      );
  } else if (!drained) {
    metrics.dropped.inc({ reason: 'shutdown' }, left.alreadySettled);
    log.warn(
      { records: left.records, qos0Lost: left.alreadySettled, timeoutMs },
      'drain timeout: records not acknowledged by Kafka were given up (QoS 1/2 devices were not acknowledged and will resend)',
    );
  }
  // 3. Close.
  await p.sink.close().catch((err: unknown) => log.warn({ err }, 'closing the Kafka client failed'));
  p.ops.monitor.stop();
  await p.ops.listener?.close();
  log.info({ drained }, 'gateway stopped');
  return { drained };
}

/** A failed start leaves nothing listening: stops what started, then throws `err`. */
export async function abandonStart(p: RunningParts, err: unknown): Promise<never> {
  p.ops.monitor.stop();
  p.registry?.close();
  await p.pump?.stop();
  p.forwarder.stop();
  await p.spool?.close().catch(() => {});
  await p.sink.close().catch(() => {});
  await p.ops.listener?.close();
  throw err;
}

/** Resolves when everything accepted has reached Kafka. */
async function drainedPromise(p: StoppingParts, state: { active: boolean }): Promise<void> {
  const { batcher, forwarder, spool } = p;
  if (spool === null) {
    batcher.flushAll();
    forwarder.kick();
    return batcher.drained();
  }
  while (state.active && !spool.drained) {
    batcher.flushAll();
    forwarder.kick();
    await sleep(20);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    p.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return result;
}
