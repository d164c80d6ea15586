// One reading of the gateway for the status monitor (status.ts): cheap, synchronous, no side
// effects. The parts are seen through the little a reading needs of them, so this side imports
// no stage; main.ts hands in the parts as they are at each reading.
import type { Config } from '../config/schema.ts';
import type { Metrics } from '../metrics.ts';
import type { Phase, Reading } from './assess.ts';

export interface ReadingParts {
  readonly phase: Phase;
  /** The MQTT source; null until it listens. */
  readonly source: { connectedDevices(): number } | null;
  /** The disk spool; null while it opens, and without one. */
  readonly spool: {
    readonly dir: string;
    stats(): { bytes: number; records: number; oldestAgeMs: number; waitingAppends: number };
  } | null;
  readonly forwarder: { readonly kafkaConnected: boolean; readonly kafkaErrorCode: string | null };
  readonly batcher: { readonly bufferedBytes: number; readonly waitingCount: number };
  readonly metrics: Metrics;
  readonly config: Config;
  /** The spool's segment size as opened (spool.segmentBytes, capped to an eighth of maxBytes). */
  readonly spoolSegmentBytes: number;
  /** The batcher's bound once the spool is open: the pump's read-ahead. */
  readonly spoolReadAheadBytes: number;
  readonly registry: { readonly state: NonNullable<Reading['registry']> } | null;
}

export function gatewayReading(g: ReadingParts): Reading {
  const { spool, metrics, batcher, config } = g;
  const st = spool?.stats();
  return {
    phase: g.phase,
    mqttListening: g.source !== null && g.phase === 'running',
    kafkaUp: g.forwarder.kafkaConnected,
    kafkaErrorCode: g.forwarder.kafkaErrorCode,
    connectedDevices: g.source?.connectedDevices() ?? 0,
    routes: [...metrics.routes].map(([name, t]) => ({
      name,
      messages: t.messages[0] + t.messages[1] + t.messages[2],
      bytes: t.bytes[0] + t.bytes[1] + t.bytes[2],
    })),
    recordsOut: metrics.kafkaRecords.value,
    deadLetters: { ...metrics.deadLetters.counts },
    dropped: { ...metrics.dropped.counts },
    spool:
      spool === null || st === undefined
        ? null
        : {
            dir: spool.dir,
            bytes: st.bytes,
            maxBytes: config.spool.maxBytes,
            segmentBytes: g.spoolSegmentBytes,
            records: st.records,
            oldestAgeMs: st.oldestAgeMs,
            waitingAppends: st.waitingAppends,
            whenFull: config.spool.whenFull,
          },
    buffer: {
      bytes: batcher.bufferedBytes,
      maxBytes: spool === null ? config.batch.maxBufferedBytes : g.spoolReadAheadBytes,
      waiting: batcher.waitingCount,
    },
    spoolIoErrors: metrics.spoolIoErrors.value,
    registry: g.registry?.state ?? null,
  };
}
