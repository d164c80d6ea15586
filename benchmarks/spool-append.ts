// Spool append throughput at the default fsync policy (group commit: one fsync per write group),
// with the acknowledgement wait a QoS 1 device sees. Load: `--writers` concurrent appenders, each
// appending its next record as soon as the previous one is durable — like devices waiting for
// PUBACK with `--inflight` messages in flight each. Baseline in the same run: one fsync per
// record (what a store without group commit does), on the same disk.
//
//   node benchmarks/spool-append.ts [--records N] [--writers W] [--inflight K] [--value-bytes B]
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
    'baseline-records': { type: 'string', default: '3000' },
  },
});
const N = Number(values.records);
const WRITERS = Number(values.writers);
const INFLIGHT = Number(values.inflight);
const VALUE = Number(values['value-bytes']);
const BASELINE_N = Number(values['baseline-records']);

const record: OutboundRecord = {
  key: Buffer.from('vehicle-0042'),
  value: Buffer.alloc(VALUE, 7),
  headers: {
    'mqtt-topic': Buffer.from('fleet/buses/vehicles/vehicle-0042/position'),
    'weir-gateway-id': Buffer.from('edge-gateway-01'),
    'avro-schema-fingerprint': Buffer.from('9f'.repeat(32)),
  },
  timestamp: Date.now(),
};
const frameBytes = encodeFrame(1, 'iot.vehicle.positions', record).length;

async function spoolRun(): Promise<number> {
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
        issued++;
        await new Promise<void>((resolve, reject) =>
          spool.append('iot.vehicle.positions', record, null, (err) => (err ? reject(err) : resolve())),
        );
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await spool.close();
  rmSync(dir, { recursive: true, force: true });
  return seconds;
}

async function baselineRun(): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-bench-fsync-'));
  const handle = await open(path.join(dir, 'log'), 'w');
  const frame = encodeFrame(1, 'iot.vehicle.positions', record);
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
const seconds = await spoolRun();
const rate = N / seconds;
const figures = {
  recordsPerSec: Math.round(rate),
  mbPerSec: Number(((rate * frameBytes) / 1e6).toFixed(1)),
  frameBytes,
  baselineFsyncPerRecordPerSec: Math.round(baseline),
  ratioVsFsyncPerRecord: Number((rate / baseline).toFixed(1)),
};
await writeResult(
  'spool-append',
  { records: N, writers: WRITERS, inflight: INFLIGHT, valueBytes: VALUE },
  figures,
  [
    ['records/s (group commit, durable)', figures.recordsPerSec],
    ['MB/s', figures.mbPerSec],
    ['bytes per record on disk', frameBytes],
    ['baseline: one fsync per record, records/s', figures.baselineFsyncPerRecordPerSec],
    ['ratio', `${figures.ratioVsFsyncPerRecord}×`],
  ],
);
