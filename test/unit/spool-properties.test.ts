// What MQTT 5 adds to a spooled record: headers whose names repeat (a user property sent more
// than once), the message expiry, headers met only once (written out, not remembered); and
// segments of the format before these (2) still read.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { OutboundRecord } from '../../gateway/contracts.ts';
import {
  DEFINE_AT_ONCE,
  decodeFrame,
  emptyDictionary,
  encodeFrame,
  FORMAT_VERSION,
  frameSize,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  SegmentEncoder,
  segmentName,
} from '../../gateway/spool/disk/format.ts';
import { DiskSpool } from '../../gateway/spool/disk/spool.ts';

const AT = 1_763_800_000_000;
const shared = { 'mqtt-topic': Buffer.from('city/a/t/dev-1'), 'weir-gateway-id': Buffer.from('gw') };
const rec = (i: number, over: Partial<OutboundRecord> = {}): OutboundRecord => ({
  key: Buffer.from('dev-1'),
  value: Buffer.alloc(30, i),
  headers: shared,
  timestamp: AT + i,
  origin: { clientId: 'dev-1', qos: 1, route: 'city' },
  ...over,
});

function roundTrip(r: OutboundRecord): OutboundRecord {
  const d = decodeFrame(encodeFrame(9, 'iot.t', r), 0, 9);
  assert.equal(d.kind, 'record');
  if (d.kind !== 'record') throw new Error('unreachable');
  return d.value.record;
}

/** Header values as text: each name with its values in order (a Map: a name may be `__proto__`). */
function text(headers: OutboundRecord['headers']): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name in headers) {
    const v = headers[name]!;
    out.set(
      name,
      (Buffer.isBuffer(v) ? [v] : v).map((b) => b.toString()),
    );
  }
  return out;
}

describe('spool frames of MQTT 5 records', () => {
  test('a header name with several values keeps them all, in order', () => {
    const headers = {
      ...shared,
      tag: [Buffer.from('a'), Buffer.from(''), Buffer.from('c')],
      unit: Buffer.from('°C'),
    };
    // A device may name a property `__proto__`: it is a header like any other.
    Object.defineProperty(headers, '__proto__', { value: Buffer.from('x'), enumerable: true });
    const back = roundTrip(rec(1, { headers }));
    assert.deepEqual(
      text(back.headers),
      new Map([
        ['mqtt-topic', ['city/a/t/dev-1']],
        ['weir-gateway-id', ['gw']],
        ['tag', ['a', '', 'c']],
        ['unit', ['°C']],
        ['__proto__', ['x']],
      ]),
    );
  });

  test('the expiry comes back; a record without one gains no bytes and no expiry', () => {
    const plain = rec(2);
    const expiring = rec(2, { expiresAt: AT + 2 + 60_000 });
    assert.equal(roundTrip(expiring).expiresAt, AT + 2 + 60_000);
    assert.equal('expiresAt' in roundTrip(plain), false);
    const extra = encodeFrame(1, 'iot.t', expiring).length - encodeFrame(1, 'iot.t', plain).length;
    assert.equal(extra, 3, 'a minute is a 3-byte varint');
    // MQTT's longest expiry (2^32 − 1 s) fits too, and frameSize bounds it.
    const longest = rec(3, { expiresAt: AT + 3 + (2 ** 32 - 1) * 1000 });
    assert.ok(encodeFrame(1, 'iot.t', longest).length <= frameSize('iot.t', longest));
    assert.equal(roundTrip(longest).expiresAt, longest.expiresAt);
    // An expiry before the receive time (a clock step) reads back as already expired.
    assert.equal(roundTrip(rec(4, { expiresAt: AT })).expiresAt, AT + 4);
  });

  test('more headers than a u16 counts come back whole', () => {
    const many = { ...shared, n: Array.from({ length: 70_000 }, (_, i) => Buffer.from(String(i))) };
    const back = text(roundTrip(rec(5, { headers: many })).headers).get('n')!;
    assert.equal(back.length, 70_000);
    assert.equal(back[69_999], '69999');
  });

  test('past the first headers a segment meets, headers met once are written out and not remembered; met again, they are', () => {
    const dict = emptyDictionary();
    const withHeader = (i: number, name: string) =>
      rec(i, { headers: { ...shared, [name]: Buffer.from(`${name}-${i}`) } });
    // A fleet's device topics: each defined the first time.
    const fleet = Array.from({ length: DEFINE_AT_ONCE }, (_, i) => withHeader(i, 'device'));
    const traced = Array.from({ length: 100 }, (_, i) => withHeader(i, 'trace'));
    const late = withHeader(0, 'late'); // a device topic first met after those
    const records = [...fleet, ...traced, late, late, late];
    const group = records.map((record) => ({ topic: 'iot.t', record }));
    const max = group.reduce((n, g) => n + frameSize(g.topic, g.record), 0);
    const { frames, sizes } = new SegmentEncoder(dict).encode(1, group, max);
    assert.equal(dict.headers.length, DEFINE_AT_ONCE + 1, 'the fleet and the late topic; no trace headers');
    assert.equal(dict.headers.at(-1), late.headers);
    const n = records.length;
    assert.ok(sizes[n - 1]! < sizes[n - 3]! - 30, 'the third record of the late topic refers to its headers');
    const reader = emptyDictionary();
    let at = 0;
    records.forEach((r, i) => {
      const d = decodeFrame(frames, at, 1 + i, FORMAT_VERSION, reader);
      assert.equal(d.kind, 'record');
      if (d.kind !== 'record') return;
      assert.deepEqual(text(d.value.record.headers), text(r.headers));
      at += d.bytes;
    });
  });

  test('a segment of format 2 (an older weir) is still read', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-spool-v2-'));
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    SEGMENT_MAGIC.copy(header, 0);
    header.writeUInt32LE(2, 8);
    // Format 2 frames are format 3 frames without an expiry (bit 6) and with fewer than 65,535 headers.
    const frames = [1, 2, 3].map((seq) => encodeFrame(seq, 'iot.t', rec(seq)));
    writeFileSync(path.join(dir, segmentName(1)), Buffer.concat([header, ...frames]));
    const spool = await DiskSpool.open({
      dir,
      maxBytes: 1 << 26,
      segmentBytes: 4096,
      whenFull: 'block',
      fsyncIntervalMs: 0,
      checkpointIntervalMs: 60_000,
      events: {
        damaged: () => assert.fail('damaged'),
        dropped: () => {},
        ioError: (err) => assert.fail(err),
      },
    });
    const got = await spool.read(1 << 20);
    assert.deepEqual(
      got.map((r) => [r.seq, r.record.value[0], text(r.record.headers).get('mqtt-topic')![0]]),
      [1, 2, 3].map((i) => [i, i, 'city/a/t/dev-1']),
    );
    await spool.close();
  });
});
