// Spool append throughput at the default fsync policy (group commit: one fsync per write group),
// with the acknowledgement wait a QoS 1 device sees. Load: `--writers` concurrent appenders, each
// appending its next record as soon as the previous one is durable — like devices waiting for
// PUBACK with `--inflight` messages in flight each. Baseline in the same run: one fsync per
// record (what a store without group commit does), on the same disk.
//
// Records come from `--devices` devices, each with its own key, headers and origin shared by its
// records (as the intake makes them), so bytes on disk per record are what a fleet writes.
//
//   node benchmarks/spool-append.ts [--records N] [--writers W] [--inflight K] [--value-bytes B] [--devices D]
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { OutboundRecord } from '../gateway/contracts.ts';
import { encodeFrame } from '../gateway/spool/disk/format.ts';
import { DiskSpool } from '../gateway/spool/disk/spool.ts';
import { writeResult } from './result.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    writers: { type: 'string', default: '100' },
    inflight: { type: 'string', default: '10' },
    'value-bytes': { type: 'string', default: '80' },
    devices: { type: 'string', default: '1000' },
    'baseline-records': { type: 'string', default: '3000' },
  },
});
const N = Number(values.records);
const WRITERS = Number(values.writers);
const INFLIGHT = Number(values.inflight);
const VALUE = Number(values['value-bytes']);
const BASELINE_N = Number(values['baseline-records']);
const DEVICES = Number(values.devices);

const fleet: OutboundRecord[] = Array.from({ length: DEVICES }, (_, i) => {
  const id = `vehicle-${String(i).padStart(4, '0')}`;
  return {
    key: Buffer.from(id),
    value: Buffer.alloc(VALUE, 7),
    headers: {
      'mqtt-topic': Buffer.from(`fleet/buses/vehicles/${id}/position`),
      'weir-gateway-id': Buffer.from('edge-gateway-01'),
      'avro-schema-fingerprint': Buffer.from('9f'.repeat(32)),
    },
    timestamp: Date.now(),
    origin: { clientId: id, qos: 1, route: 'vehicle-gps' },
  };
});
const record = fleet[0]!;
/** Key + value: what Kafka needs of a record. */
const payloadBytes = record.key!.length + VALUE;

async function spoolRun(): Promise<{ seconds: number; bytesPerRecord: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-bench-spool-'));
  const spool = await DiskSpool.open({
    dir,
    maxBytes: 8 * 1024 ** 3,
    segmentBytes: 64 * 1024 ** 2,
    whenFull: 'block',
    fsyncIntervalMs: 0,
    checkpointIntervalMs: 1000,
    events: {
      damaged() {},
      dropped() {},
      ioError: (e) => {
        throw e;
      },
    },
  });
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS * INFLIGHT }, async () => {
      while (issued < N) {
        const r = fleet[issued++ % DEVICES]!;
        await new Promise<void>((resolve, reject) =>
          spool.append('iot.vehicle.positions', r, null, (err) => (err ? reject(err) : resolve())),
        );
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const bytes = spool.stats().bytes;
  await spool.close();
  rmSync(dir, { recursive: true, force: true });
  return { seconds, bytesPerRecord: bytes / N };
}

async function baselineRun(): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-bench-fsync-'));
  const handle = await open(path.join(dir, 'log'), 'w');
  const frame = encodeFrame(1, 'iot.vehicle.positions', record); // one record, written out in full
  const started = performance.now();
  let pos = 0;
  for (let i = 0; i < BASELINE_N; i++) {
    await handle.write(frame, 0, frame.length, pos);
    pos += frame.length;
    await handle.datasync();
  }
  const seconds = (performance.now() - started) / 1000;
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
  return BASELINE_N / seconds;
}

const baseline = await baselineRun();
const { seconds, bytesPerRecord } = await spoolRun();
const rate = N / seconds;
const frameBytes = Math.round(bytesPerRecord);
const figures = {
  recordsPerSec: Math.round(rate),
  mbPerSec: Number(((rate * bytesPerRecord) / 1e6).toFixed(1)),
  frameBytes,
  keyAndValueBytes: payloadBytes,
  diskBytesPerKeyAndValueByte: Number((bytesPerRecord / payloadBytes).toFixed(2)),
  baselineFsyncPerRecordPerSec: Math.round(baseline),
  ratioVsFsyncPerRecord: Number((rate / baseline).toFixed(1)),
};
await writeResult(
  'spool-append',
  { records: N, writers: WRITERS, inflight: INFLIGHT, valueBytes: VALUE, devices: DEVICES },
  figures,
  [
    ['records/s (group commit, durable)', figures.recordsPerSec],
    ['MB/s', figures.mbPerSec],
    ['bytes per record on disk', frameBytes],
    ['… per byte of key + value', `${figures.diskBytesPerKeyAndValueByte}×`],
    ['baseline: one fsync per record, records/s', figures.baselineFsyncPerRecordPerSec],
    ['ratio', `${figures.ratioVsFsyncPerRecord}×`],
  ],
);
