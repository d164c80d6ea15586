// The spool stage built from the config: the disk spool with its events counted and logged, its
// gauges, and the pump that reads the spool into the batcher (the intake writes to it through
// SpoolQueue, queue.ts). Also where the spool's directory and the sizes derived from the config are decided.
import { homedir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.ts';
import type { RecordBuffer } from '../contracts.ts';
import { rateLimited } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { DiskSpool, type ReadEntry, type SpoolEvents } from './disk/spool.ts';
import { SpoolPump } from './pump.ts';

/**
 * With the spool, the backlog waits on disk: memory holds only what is on its way to Kafka — a
 * few full batches, so every send is full while Kafka keeps up — not batch.maxBufferedBytes of
 * records. This is what keeps RSS flat through an outage and its drain.
 */
export function spoolReadAheadBytes(batch: { maxBytes: number; maxBufferedBytes: number }): number {
  return Math.min(batch.maxBufferedBytes, Math.max(4 * batch.maxBytes, 4 * 1024 * 1024));
}

/** The spool directory: as configured (relative to the config file), else the state directory. */
export function spoolDirectory(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env): string {
  const dir = loaded.config.spool.dir;
  if (dir !== undefined) return path.resolve(loaded.baseDir, dir);
  const state =
    env.STATE_DIRECTORY?.split(':')[0] ?? env.XDG_STATE_HOME ?? path.join(homedir(), '.local/state');
  return env.STATE_DIRECTORY ? path.join(state, 'spool') : path.join(state, 'weir/spool');
}

/** Several segments per spool, so that space frees in steps as Kafka catches up. */
export function spoolSegmentBytes(spool: { segmentBytes: number; maxBytes: number }): number {
  return Math.max(4096, Math.min(spool.segmentBytes, Math.floor(spool.maxBytes / 8)));
}

export interface SpoolStageOptions {
  readonly loaded: LoadedConfig;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Free space on the spool's disk, for the log lines of a write failure and its end. */
  readonly probeDisk: (dir: string) => Promise<{ readonly freeBytes: number | null }>;
}

/** Opens the spool (replaying what Kafka has not acknowledged yet) and registers its gauges. */
export async function openSpool(opts: SpoolStageOptions): Promise<DiskSpool> {
  const { loaded, metrics, log } = opts;
  const s = loaded.config.spool;
  const spool = await DiskSpool.open({
    dir: spoolDirectory(loaded),
    maxBytes: s.maxBytes,
    segmentBytes: spoolSegmentBytes(s),
    whenFull: s.whenFull,
    fsyncIntervalMs: s.fsyncIntervalMs,
    checkpointIntervalMs: s.checkpointIntervalMs,
    events: spoolEvents(opts),
  });
  const opened = spool.stats();
  log.info(
    { dir: spool.dir, records: opened.records, bytes: opened.bytes, segments: opened.segments },
    opened.records > 0 ? 'spool opened; replaying records not yet in Kafka' : 'spool opened',
  );
  metrics.gauge('weir_spool_bytes', 'Bytes of spool segment files on disk.', () => spool.stats().bytes);
  metrics.gauge(
    'weir_spool_records',
    'Records in the spool not yet acknowledged by Kafka.',
    () => spool.stats().records,
  );
  metrics.gauge(
    'weir_spool_oldest_record_age_seconds',
    'Age of the oldest record sent to Kafka and not yet acknowledged (0 when none).',
    () => spool.stats().oldestAgeMs / 1000,
  );
  metrics.gauge(
    'weir_spool_max_bytes',
    "The spool's upper bound on disk (spool.maxBytes).",
    () => s.maxBytes,
  );
  metrics.gauge(
    'weir_spool_waiting_appends',
    'Messages waiting for space in a full spool (whenFull: block): devices are being slowed down.',
    () => spool.stats().waitingAppends,
  );
  return spool;
}

/** Starts moving spooled records into the batcher, in spool order, within the read-ahead bound. */
export function startSpoolPump(
  spool: DiskSpool,
  batcher: RecordBuffer,
  config: LoadedConfig['config'],
): SpoolPump<ReadEntry> {
  const pump = new SpoolPump({
    spool,
    batcher,
    maxBufferedBytes: spoolReadAheadBytes(config.batch),
    maxBytesPerSec: config.spool.drainMaxBytesPerSec,
  });
  pump.start();
  return pump;
}

/** What the spool reports, counted in metrics and logged without flooding the log. */
function spoolEvents({ loaded, metrics, log, probeDisk }: SpoolStageOptions): SpoolEvents {
  const s = loaded.config.spool;
  return {
    damaged(report) {
      metrics.spoolDamage.inc();
      metrics.dropped.inc({ reason: 'spool_damaged' }, report.records);
      log.error(report, 'spool damage cut off; reading continues after it');
    },
    dropped: (() => {
      const logDrop = rateLimited(10_000, (suppressed) =>
        log.warn({ policy: s.whenFull, suppressed }, 'spool full: records dropped by policy'),
      );
      return (n: number) => {
        metrics.dropped.inc({ reason: 'spool_full' }, n);
        logDrop();
      };
    })(),
    ioError: (() => {
      let last: { err: Error; during: string } | null = null;
      const logOther = rateLimited(60_000, (suppressed) =>
        log.error(
          {
            during: last?.during,
            code: (last?.err as NodeJS.ErrnoException | undefined)?.code,
            err: last?.err.message,
            suppressed,
          },
          'spool I/O error; tried again later',
        ),
      );
      return (err: Error, during: string) => {
        metrics.spoolIoErrors.inc();
        // Write failures are logged once per change of state (writeState, below).
        if (during === 'write') return;
        last = { err, during };
        logOther();
      };
    })(),
    writeState: (() => {
      // A full disk fails every write, and may flap while space comes and goes: one line
      // when an episode starts, one when writes have worked for 5 s; failures are counted.
      let episode: { since: number; failures: number } | null = null;
      let settling: NodeJS.Timeout | null = null;
      return (err: Error | null, failures: number) => {
        const dir = spoolDirectory(loaded);
        if (err !== null) {
          if (settling !== null) clearTimeout(settling);
          settling = null;
          if (episode !== null) return;
          episode = { since: Date.now(), failures: 0 };
          void probeDisk(dir).then(({ freeBytes }) =>
            log.error(
              { dir, code: (err as NodeJS.ErrnoException).code, freeBytes, err: err.message },
              'spool writes failing: messages are not acknowledged until the spool can be written',
            ),
          );
          return;
        }
        if (episode === null) return;
        episode.failures += failures;
        if (settling !== null) return;
        settling = setTimeout(() => {
          settling = null;
          const ended = episode!;
          episode = null;
          void probeDisk(dir).then(({ freeBytes }) =>
            log.info(
              { dir, failures: ended.failures, failingMs: Date.now() - ended.since, freeBytes },
              'spool writable again',
            ),
          );
        }, 5000);
        settling.unref();
      };
    })(),
  };
}
