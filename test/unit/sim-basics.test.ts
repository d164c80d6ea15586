// The simulator's building blocks: seeded random streams, sequence-number ranges, the fleet mix,
// the device plan, the scheduler heap and the connect queue.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectQueue } from '../../device-sim/connect-queue.ts';
import { MinHeap } from '../../device-sim/heap.ts';
import { assignFleets, countByFleet, parseMix } from '../../device-sim/mix.ts';
import { DEFAULT_CENTER } from '../../device-sim/options.ts';
import { planDevices } from '../../device-sim/plan.ts';
import { Random } from '../../device-sim/random.ts';
import { formatRanges, rangesCount, SeqSet, toRanges } from '../../device-sim/seq-ranges.ts';

describe('Random', () => {
  test('the same seed gives the same stream; derived streams differ', () => {
    const a = Random.derive(42, 'device', 1);
    const b = Random.derive(42, 'device', 1);
    const c = Random.derive(42, 'device', 2);
    const take = (r: Random) => Array.from({ length: 100 }, () => r.uint32());
    assert.deepEqual(take(a), take(b));
    assert.notDeepEqual(take(Random.derive(42, 'device', 1)), take(c));
  });

  test('distributions have the right shape', () => {
    const r = new Random(7);
    const n = 50_000;
    const floats = Array.from({ length: n }, () => r.float());
    assert.ok(floats.every((x) => x >= 0 && x < 1));
    assert.ok(Math.abs(floats.reduce((s, x) => s + x, 0) / n - 0.5) < 0.01);
    const normals = Array.from({ length: n }, () => r.normal(10, 2));
    const mean = normals.reduce((s, x) => s + x, 0) / n;
    const sd = Math.sqrt(normals.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
    assert.ok(Math.abs(mean - 10) < 0.05 && Math.abs(sd - 2) < 0.05);
    const poisson = Array.from({ length: n }, () => r.poisson(3.5));
    assert.ok(Math.abs(poisson.reduce((s, x) => s + x, 0) / n - 3.5) < 0.05);
    const ints = new Set(Array.from({ length: 1000 }, () => r.int(1, 6)));
    assert.deepEqual([...ints].sort(), [1, 2, 3, 4, 5, 6]);
    const w = Array.from({ length: n }, () => r.weighted({ a: 1, b: 3 }));
    assert.ok(Math.abs(w.filter((x) => x === 'b').length / n - 0.75) < 0.01);
  });
});

describe('SeqSet', () => {
  test('keeps in-order acknowledgements as one range', () => {
    const s = new SeqSet();
    for (let i = 1; i <= 100_000; i++) s.add(i);
    assert.deepEqual(s.ranges(), [[1, 100_000]]);
    assert.equal(s.size, 100_000);
  });

  test('merges out-of-order additions and ignores repeats', () => {
    const s = new SeqSet();
    for (const n of [5, 1, 3, 2, 9, 7, 8, 3, 20]) s.add(n);
    assert.deepEqual(s.ranges(), [
      [1, 3],
      [5, 5],
      [7, 9],
      [20, 20],
    ]);
    assert.equal(s.size, 8);
    assert.equal(s.add(8), false);
    s.addRange(4, 21);
    assert.deepEqual(s.ranges(), [[1, 21]]);
    assert.equal(s.size, 21);
    assert.ok(s.has(21) && !s.has(22) && !s.has(0));
  });

  test('round-trips through the report form', () => {
    const ranges: Array<[number, number]> = [
      [1, 10],
      [12, 12],
      [15, 40],
    ];
    const s = SeqSet.fromRanges(ranges);
    assert.deepEqual(s.ranges(), ranges);
    assert.equal(rangesCount(ranges), 37);
    assert.deepEqual(toRanges([...s.values()]), ranges);
    assert.equal(formatRanges(ranges), '1–10, 12, 15–40');
    assert.throws(() => SeqSet.fromRanges([[5, 4]]), RangeError);
  });
});

describe('fleet mix', () => {
  test('parses names, mixed and weights; rejects unknown fleets', () => {
    assert.deepEqual(parseMix('vehicle-gps'), { mix: { 'vehicle-gps': 1 } });
    assert.deepEqual(parseMix('smart-city=5,factory-line=2'), {
      mix: { 'smart-city': 5, 'factory-line': 2 },
    });
    assert.equal(Object.keys((parseMix('mixed') as { mix: object }).mix).length, 3);
    assert.match((parseMix('trains') as { problem: string }).problem, /unknown fleet 'trains'/);
    assert.match((parseMix('smart-city=x') as { problem: string }).problem, /cannot read/);
  });

  test('assigns devices in proportion, interleaved', () => {
    const fleets = assignFleets({ 'smart-city': 5, 'factory-line': 2, 'vehicle-gps': 3 }, 1000);
    assert.deepEqual(countByFleet(fleets), { 'smart-city': 500, 'factory-line': 200, 'vehicle-gps': 300 });
    assert.deepEqual(countByFleet(fleets.slice(0, 10)), {
      'smart-city': 5,
      'factory-line': 2,
      'vehicle-gps': 3,
    });
    assert.deepEqual(assignFleets({ 'factory-line': 1 }, 3), [
      'factory-line',
      'factory-line',
      'factory-line',
    ]);
  });
});

describe('device plan', () => {
  const settings = {
    seed: 5,
    modelStartMs: Date.parse('2026-05-01T12:00:00Z'),
    timeWarp: 1,
    center: DEFAULT_CENTER,
    rates: { 'smart-city': 1, 'factory-line': 5, 'vehicle-gps': 1 },
    mix: { 'smart-city': 1, 'factory-line': 1, 'vehicle-gps': 1 },
    idPrefix: 'simabc',
  };

  test('ids, topics and readings depend only on the settings and the device index', () => {
    const small = planDevices({ ...settings, devices: 12 });
    const big = planDevices({ ...settings, devices: 30 });
    assert.equal(small[0]!.deviceId, 'simabc-city-0001');
    assert.equal(big[29]!.deviceId, 'simabc-vehicle-0030');
    for (let i = 0; i < 12; i++) {
      assert.equal(small[i]!.model.topic, big[i]!.model.topic);
      assert.deepEqual(
        Array.from({ length: 20 }, () => small[i]!.model.next()),
        Array.from({ length: 20 }, () => big[i]!.model.next()),
      );
    }
    const reseeded = planDevices({ ...settings, seed: 6, devices: 12 });
    assert.notDeepEqual(
      reseeded.map((d) => d.model.next()),
      planDevices({ ...settings, devices: 12 }).map((d) => d.model.next()),
    );
    assert.equal(small.find((d) => d.fleet === 'factory-line')!.periodMs, 200);
  });
});

describe('scheduler and connect queue', () => {
  test('the heap pops events in time order', () => {
    const h = new MinHeap<{ at: number }>();
    const r = new Random(1);
    const times = Array.from({ length: 1000 }, () => r.int(0, 500));
    for (const at of times) h.push({ at });
    const out: number[] = [];
    while (h.size > 0) out.push(h.pop()!.at);
    assert.deepEqual(
      out,
      [...times].sort((a, b) => a - b),
    );
  });

  test('the connect queue keeps at most `limit` connects in progress, first come first served', () => {
    const started: number[] = [];
    const q = new ConnectQueue<number>(3, (n) => {
      if (n === 4) return false; // no longer needs a connect
      started.push(n);
      return true;
    });
    for (let i = 0; i < 8; i++) q.add(i);
    assert.deepEqual(started, [0, 1, 2]);
    assert.equal(q.active, 3);
    q.done();
    assert.deepEqual(started, [0, 1, 2, 3]);
    q.done();
    assert.deepEqual(started, [0, 1, 2, 3, 5], 'item 4 was skipped without taking a slot');
    q.clear();
    q.done();
    q.done();
    q.done();
    assert.equal(q.active, 0);
    assert.equal(q.waiting, 0);
  });
});
