// The checks behind /status and /readyz, on readings made up for each case.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assess, type Reading, type Sample } from '../../gateway/http/assess.ts';
import type { DiskReading } from '../../gateway/http/disk.ts';

const WINDOW_MS = 10_000;
const MiB = 1024 * 1024;

function reading(over: Partial<Reading> = {}, spool: Partial<NonNullable<Reading['spool']>> = {}): Reading {
  return {
    phase: 'running',
    mqttListening: true,
    kafkaUp: true,
    connectedDevices: 3,
    routes: [{ name: 'r', messages: 0, bytes: 0 }],
    recordsOut: 0,
    deadLetters: { invalid_json: 0 },
    dropped: { too_large: 0, spool_full: 0, shutdown: 0 },
    spool: {
      dir: '/var/lib/weir/spool',
      bytes: 1 * MiB,
      maxBytes: 1024 * MiB,
      segmentBytes: 64 * MiB,
      records: 0,
      oldestAgeMs: 0,
      waitingAppends: 0,
      whenFull: 'block',
      ...spool,
    },
    buffer: { bytes: 0, maxBytes: 64 * MiB, waiting: 0 },
    spoolIoErrors: 0,
    ...over,
  };
}

/** Readings one second apart; the last is "now". */
function run(readings: Reading[], disk: DiskReading | null = null) {
  const samples: Sample[] = readings.map((r, i) => ({ at: i * 1000, reading: r }));
  const now = samples[samples.length - 1]!;
  return assess(now, samples.slice(0, -1), disk, WINDOW_MS);
}

const codes = (a: ReturnType<typeof assess>) => a.conditions.map((c) => c.code);
const steady = (n: number, f: (i: number) => Reading) => Array.from({ length: n }, (_, i) => f(i));

describe('status checks', () => {
  test('traffic flowing, Kafka up: ok and ready', () => {
    const a = run(steady(11, (i) => reading({ recordsOut: i * 100 }, { records: 20, oldestAgeMs: 5 })));
    assert.deepEqual(a, { state: 'ok', ready: true, conditions: [] });
  });

  test('starting and stopping are not ready, whatever else holds', () => {
    assert.deepEqual(run([reading({ phase: 'starting', kafkaUp: false })]), {
      state: 'starting',
      ready: false,
      conditions: [],
    });
    assert.equal(run([reading(), reading({ phase: 'stopping' })]).ready, false);
  });

  test('Kafka down and the spool growing: degraded but ready', () => {
    const a = run(
      steady(11, (i) =>
        reading({ kafkaUp: false, recordsOut: 500 }, { records: i * 100, oldestAgeMs: 12_000 + i }),
      ),
    );
    assert.equal(a.state, 'degraded');
    assert.equal(a.ready, true);
    assert.deepEqual(codes(a), ['kafka_down', 'backlog_growing']);
    assert.match(
      a.conditions[1]!.message,
      /grew by 1000 records in the last 10 s; the oldest waits for 12 s/,
    );
  });

  test('nothing reaches Kafka for a whole window while records wait (Kafka hung): not_delivering', () => {
    const a = run(
      steady(11, (i) => reading({ recordsOut: 500 }, { records: 50 + i, oldestAgeMs: 3000 + i * 1000 })),
    );
    assert.deepEqual(codes(a), ['not_delivering', 'backlog_growing']);
    // Not before a full window has passed, and not when nothing waits.
    assert.deepEqual(codes(run(steady(5, () => reading({ recordsOut: 500 }, { records: 50 })))), []);
    assert.deepEqual(codes(run(steady(11, () => reading({ recordsOut: 500 }, { records: 0 })))), []);
  });

  test('a backlog that shrinks is not growing, however old', () => {
    const a = run(
      steady(11, (i) =>
        reading({ recordsOut: i * 1000 }, { records: 10_000 - i * 900, oldestAgeMs: 60_000 }),
      ),
    );
    assert.deepEqual(codes(a), []);
  });

  test('devices made to wait for half the window: backpressure, with the cause', () => {
    const full = steady(11, (i) => reading({ recordsOut: i }, { waitingAppends: i % 2 === 0 ? 5 : 0 }));
    full[10] = reading({ recordsOut: 10 }, { waitingAppends: 7 });
    const a = run(full);
    assert.deepEqual(codes(a), ['backpressure']);
    assert.match(a.conditions[0]!.message, /spool is full/);
    const memory = run(
      steady(11, (i) =>
        reading({ recordsOut: i, buffer: { bytes: 64 * MiB, maxBytes: 64 * MiB, waiting: 3 } }),
      ),
    );
    assert.match(memory.conditions[0]!.message, /memory buffer/);
    // A moment of flow control is not a condition.
    const blip = steady(11, (i) => reading({ recordsOut: i }));
    blip[10] = reading({ recordsOut: 10 }, { waitingAppends: 1 });
    assert.deepEqual(codes(run(blip)), []);
  });

  test('drops within the window are reported by reason; shutdown drops are not', () => {
    const a = run([
      reading({ dropped: { too_large: 1, spool_full: 10, shutdown: 0 } }),
      reading({ recordsOut: 1, dropped: { too_large: 2, spool_full: 130, shutdown: 4 } }),
    ]);
    assert.deepEqual(codes(a), ['dropping']);
    assert.match(
      a.conditions[0]!.message,
      /^121 messages dropped in the last 1 s \(too_large 1, spool_full 120\)/,
    );
  });

  test('spool nearly full, and a disk that fills before the spool does', () => {
    const nearly = run([reading({}, { bytes: 950 * MiB }), reading({ recordsOut: 1 }, { bytes: 950 * MiB })]);
    assert.deepEqual(codes(nearly), ['spool_nearly_full']);
    assert.match(nearly.conditions[0]!.message, /92 %.*make devices wait/);
    const disk = (freeBytes: number): DiskReading => ({ writable: true, problem: null, freeBytes });
    assert.deepEqual(codes(run([reading(), reading({ recordsOut: 1 })], disk(100 * MiB))), ['disk_low']);
    // Plenty left, or more than the spool may still use: fine.
    assert.deepEqual(codes(run([reading(), reading({ recordsOut: 1 })], disk(10_000 * MiB))), []);
    assert.deepEqual(
      codes(run([reading(), reading({ recordsOut: 1 }, { bytes: 1000 * MiB })], disk(100 * MiB))),
      ['spool_nearly_full'],
    );
  });

  test('a spool that cannot be written, or a listener that is gone: failing, not ready', () => {
    const ro = run([reading(), reading()], { writable: false, problem: 'EROFS', freeBytes: 10_000 * MiB });
    assert.deepEqual(ro, {
      state: 'failing',
      ready: false,
      conditions: [
        {
          code: 'spool_not_writable',
          severity: 'failing',
          message: 'The spool directory /var/lib/weir/spool cannot be written (EROFS).',
        },
      ],
    });
    const io = run([reading(), reading({ spoolIoErrors: 2, kafkaUp: false })]);
    assert.equal(io.state, 'failing');
    assert.deepEqual(codes(io), ['spool_not_writable', 'kafka_down']);
    assert.equal(run([reading(), reading({ mqttListening: false })]).ready, false);
  });

  test('without a spool: no spool checks, Kafka down says records wait in memory', () => {
    const a = run([reading({ spool: null }), reading({ spool: null, kafkaUp: false })], {
      writable: false,
      problem: 'EROFS',
      freeBytes: 0,
    });
    assert.deepEqual(codes(a), ['kafka_down']);
    assert.match(a.conditions[0]!.message, /wait in memory/);
  });
});
