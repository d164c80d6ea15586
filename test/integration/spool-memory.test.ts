// With the spool, a backlog waits on disk, not in memory: while Kafka is unreachable and devices
// keep publishing, what weir holds in memory for Kafka stays at the read-ahead bound (a few
// batches) however large the backlog on disk grows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spoolReadAheadBytes } from '../../gateway/spool/stage.ts';
import { connectDevice, publishSequence } from '../support/devices.ts';
import { freePort } from '../support/faults.ts';
import { startTestGateway } from '../support/gateway.ts';
import { scrape, series } from '../support/ops.ts';

test('Kafka unreachable: the backlog grows on disk, memory stays at the read-ahead bound', async (t) => {
  const unreachable = `127.0.0.1:${await freePort()}`;
  const { gateway, url } = await startTestGateway(t, {
    kafka: { brokers: [unreachable], connectionTimeoutMs: 500, requestTimeoutMs: 1000 },
  });
  const devices = await Promise.all(
    Array.from({ length: 10 }, (_, i) => connectDevice(url, `spool-memory-${i}`)),
  );
  t.after(() => Promise.all(devices.map((d) => d.endAsync())));
  await Promise.all(devices.map((d, i) => publishSequence(d, 'factory', `spool-memory-${i}`, 10_000, 50)));

  const m = await scrape(`http://127.0.0.1:${gateway.http!.port}`);
  const inMemory = series(m, 'weir_batcher_buffered_bytes');
  const onDisk = series(m, 'weir_spool_bytes');
  const bound = spoolReadAheadBytes({ maxBytes: 1024 * 1024, maxBufferedBytes: 64 * 1024 * 1024 });
  assert.equal(series(m, 'weir_spool_records'), 100_000, 'every acknowledged message waits in the spool');
  assert.ok(onDisk > 2 * bound, `the backlog on disk (${onDisk} B) is larger than the bound`);
  assert.ok(inMemory > 0, 'records are read ahead for Kafka');
  assert.ok(inMemory <= bound + 64 * 1024, `in memory ${inMemory} B, bound ${bound} B`);
});
