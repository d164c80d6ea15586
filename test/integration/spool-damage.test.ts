// A damaged spool: records pile up while Kafka is unreachable, weir stops, and the segment files
// are damaged — the last one torn mid-record, a middle one truncated mid-record, another with
// flipped bytes. weir starts, reports each damage with its file and offset, and delivers every
// intact record before the damage; the records lost are counted exactly.
import assert from 'node:assert/strict';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { parse } from 'yaml';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { parseConfig } from '../../gateway/config/load.ts';
import { startGateway } from '../../gateway/main.ts';
import { metricValue } from '../../gateway/metrics.ts';
import {
  decodeFrame,
  emptyDictionary,
  FORMAT_VERSION,
  SEGMENT_HEADER_BYTES,
} from '../../gateway/spool/disk/format.ts';
import { testKafkaBrokers } from '../helpers/kafka.ts';
import { Device, fleetOf, freePort, waitFor, waitUntilSettled, writeWeirConfig } from '../support/faults.ts';
import { repoRoot } from '../support/gateway.ts';
import { readFleetRecords } from '../support/records.ts';

interface Frame {
  seq: number;
  offset: number;
  bytes: number;
  topic: string;
  value: Buffer;
}

function framesOf(file: string): Frame[] {
  const data = readFileSync(file);
  const frames: Frame[] = [];
  const dict = emptyDictionary();
  for (let at = SEGMENT_HEADER_BYTES; at < data.length; ) {
    const r = decodeFrame(data, at, undefined, FORMAT_VERSION, dict);
    if (r.kind !== 'record') break;
    frames.push({
      seq: r.value.seq,
      offset: at,
      bytes: r.bytes,
      topic: r.value.topic,
      value: Buffer.from(r.value.record.value),
    });
    at += r.bytes;
  }
  return frames;
}

test('a damaged spool: weir starts, reports the damage, delivers every intact record', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-damage-'));
  const deadKafka = `127.0.0.1:${await freePort()}`;
  const { file, topics } = writeWeirConfig({
    dir,
    port: 0,
    brokers: deadKafka,
    topicPrefix: `damage.${Date.now()}`,
    spool: { segmentBytes: 16 * 1024 },
  });
  const raw = parse(readFileSync(file, 'utf8'));
  raw.shutdown = { drainTimeoutMs: 200 };

  // 1. Fill the spool while Kafka is unreachable.
  const first = await startGateway(parseConfig(raw, dir), { log: pino({ level: 'silent' }) });
  const url = `mqtt://127.0.0.1:${first.mqtt.port}`;
  const devices = Array.from({ length: 6 }, (_, i) => new Device(url, fleetOf(i), `damage-dev-${i}`));
  await waitFor(() => devices.every((d) => d.client.connected), 30_000, 'devices to connect');
  for (let round = 0; round < 300; round++) for (const d of devices) d.publishNext();
  await waitFor(
    () => devices.every((d) => d.unacked === 0),
    30_000,
    'every publish to be acknowledged (fsync)',
  );
  await Promise.all(devices.map((d) => d.close()));
  await first.stop();

  // 2. Damage three segments.
  const spoolDir = path.join(dir, 'spool');
  const segments = readdirSync(spoolDir)
    .filter((f) => f.endsWith('.seg'))
    .sort()
    .map((f) => path.join(spoolDir, f));
  assert.ok(segments.length >= 6, `several segments (${segments.length})`);
  const frames = new Map(segments.map((s) => [s, framesOf(s)]));
  const allFrames = segments.flatMap((s) => frames.get(s)!);
  assert.equal(allFrames.length, 1800, 'every acknowledged message is in the spool');
  const lost = new Set<number>();
  const cutAfter = (seg: string, keep: number) => {
    for (const f of frames.get(seg)!.slice(keep)) lost.add(f.seq);
  };
  // a) the last segment torn in the middle of its last record (a crash during a write)
  const last = segments.at(-1)!;
  const lastFrames = frames.get(last)!;
  truncateSync(last, statSync(last).size - Math.floor(lastFrames.at(-1)!.bytes / 2));
  cutAfter(last, lastFrames.length - 1);
  // b) a middle segment truncated in the middle of its 5th record
  const truncated = segments[3]!;
  const t5 = frames.get(truncated)![4]!;
  truncateSync(truncated, t5.offset + 10);
  cutAfter(truncated, 4);
  // c) bytes flipped inside the 8th record of another segment
  const flipped = segments[1]!;
  const f8 = frames.get(flipped)![7]!;
  const fd = openSync(flipped, 'r+');
  writeSync(fd, Buffer.from([0xde, 0xad, 0xbe, 0xef]), 0, 4, f8.offset + Math.floor(f8.bytes / 2));
  closeSync(fd);
  cutAfter(flipped, 7);

  // 3. Start again, now with Kafka reachable; capture the log.
  const logLines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logLines.push(JSON.parse(line));
      done();
    },
  });
  raw.kafka.brokers = testKafkaBrokers();
  const second = await startGateway(parseConfig(raw, dir), { log: pino({ level: 'info' }, sink) });
  t.after(() => second.stop());
  await waitFor(() => second.spool!.drained, 60_000, 'the spool to drain');

  const damage = logLines.filter((l) => l.msg === 'spool damage cut off; reading continues after it');
  assert.deepEqual(
    damage.map((d) => [path.basename(String(d.file)), d.offset]).sort(),
    [
      [path.basename(last), lastFrames.at(-1)!.offset],
      [path.basename(truncated), t5.offset],
      [path.basename(flipped), f8.offset],
    ].sort(),
    'each damage reported once, with its file and offset',
  );
  assert.equal(await metricValue(second.metrics.registry, 'weir_spool_damage_events_total'), 3);
  // The torn tail was never acknowledged whole; the other two losses are counted exactly.
  const countedLost = await metricValue(second.metrics.registry, 'weir_dropped_messages_total', {
    reason: 'spool_damaged',
  });
  assert.equal(countedLost, frames.get(truncated)!.length - 4 + frames.get(flipped)!.length - 7);

  // 4. Every intact record is in Kafka.
  const expected = allFrames.filter((f) => !lost.has(f.seq));
  const types = {
    [topics.city]: loadSchema(path.join(repoRoot, 'schemas/smart-city.avsc')).type,
    [topics.factory]: loadSchema(path.join(repoRoot, 'schemas/factory-line.avsc')).type,
    [topics.vehicle]: loadSchema(path.join(repoRoot, 'schemas/vehicle-gps.avsc')).type,
  };
  const total = await waitUntilSettled(
    testKafkaBrokers()[0]!,
    Object.values(topics),
    expected.length,
    30_000,
    1000,
  );
  const got = await readFleetRecords(topics, total);
  const key = (r: { deviceId: string; seq: number }) => `${r.deviceId}#${r.seq}`;
  const gotKeys = new Set(got.map(key));
  const missing = expected
    .map((f) => types[f.topic]!.fromBuffer(f.value) as { deviceId: string; seq: number })
    .filter((r) => !gotKeys.has(key(r)));
  assert.deepEqual(missing, [], 'every intact record delivered');
  assert.equal(got.length, expected.length, 'and nothing else');
});
