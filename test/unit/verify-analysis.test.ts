// verify's analysis, record by record: loss, duplicates, order, values and latency, from what a
// device sent and had acknowledged to what Kafka holds.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FLEET_NAMES } from '../../device-sim/fleets/fleet.ts';
import { createModel } from '../../device-sim/plan.ts';
import { readReport, serializeReport, writeReport } from '../../device-sim/report.ts';
import { analyzeDevice, analyzeFleets } from '../../device-sim/verify/analysis.ts';
import { Samples } from '../../device-sim/verify/percentiles.ts';
import { Tally } from '../../device-sim/verify/tally.ts';
import { modelSettings, syntheticReport } from '../support/sim-report.ts';

const FIELDS = new Set([
  'deviceId',
  'seq',
  'ts',
  'receivedAt',
  'pm25UgM3',
  'pm10UgM3',
  'no2UgM3',
  'noiseDba',
  'noiseMaxDba',
  'vehicleCount',
  'avgSpeedKmh',
  'parkingOccupied',
  'parkingCapacity',
  'lightOn',
  'lightDimPct',
  'lightEnergyWh',
  'intervalS',
  'batteryPct',
  'latDeg',
  'lonDeg',
  'state',
  'spindleSpeedRpm',
  'vibrationRmsMmS',
  'temperatureC',
  'partCount',
  'faultCode',
  'spindleLoadPct',
  'powerKw',
  'speedKmh',
  'headingDeg',
  'odometerKm',
  'fuelPct',
  'ignitionOn',
  'gpsAccuracyM',
  'satellites',
]);

/** The records a device sent, as Kafka would hold them. */
function sentRecords(report: ReturnType<typeof syntheticReport>, index: number) {
  const d = report.devices[index]!;
  const model = createModel(modelSettings(report.config.seed), d.fleet, d.index, d.deviceId);
  return Array.from({ length: d.sent }, (_, i) => ({
    ...model.next(),
    deviceId: d.deviceId,
    seq: i + 1,
    ts: 1_000_000 + i * 1000,
    receivedAt: 1_000_000 + i * 1000 + 3,
  }));
}

function feed(tally: Tally, records: Array<Record<string, unknown>>, appendDelay: number | null = 20) {
  for (const r of records) {
    tally.add(
      {
        deviceId: r.deviceId as string,
        key: r.deviceId as string,
        seq: r.seq as number,
        ts: r.ts as number,
        receivedAt: r.receivedAt as number,
        appendTime: appendDelay === null ? null : (r.ts as number) + appendDelay,
        record: r,
      },
      FIELDS,
    );
  }
}

describe('verify analysis', () => {
  test('everything there, in order, intact: nothing to report', () => {
    const report = syntheticReport({ devices: 6, sent: 30 });
    const tally = new Tally(report, { integrity: true });
    for (let i = 0; i < 6; i++) feed(tally, sentRecords(report, i));
    const { fleets, findings } = analyzeFleets(
      tally,
      FLEET_NAMES.map((fleet) => ({ fleet, topic: `t.${fleet}`, timestampType: 'LogAppendTime' })),
    );
    assert.deepEqual(findings, []);
    for (const f of fleets) {
      assert.equal(f.devices, 2);
      assert.equal(f.acked, 60);
      assert.equal(f.received, 60);
      assert.equal(f.lost + f.duplicates + f.outOfOrder + f.corrupted + f.unexpected, 0);
      assert.equal(f.checked, 60);
      assert.deepEqual(f.latency.gateway, { count: 60, p50: 3, p95: 3, p99: 3, max: 3 });
      assert.equal(f.latency.append?.p99, 20);
    }
  });

  test('removed, duplicated, swapped and altered records are each found', () => {
    const report = syntheticReport({ devices: 3, sent: 50 });
    const tally = new Tally(report, { integrity: true });
    const [a, b, c] = [0, 1, 2].map((i) => sentRecords(report, i));
    // a: seq 10 and 20–22 removed.
    feed(
      tally,
      a!.filter((r) => r.seq !== 10 && !(r.seq >= 20 && r.seq <= 22)),
    );
    // b: seq 5 twice, seq 40 three times; seq 30 and 31 swapped.
    const bList = [...b!];
    bList.splice(5, 0, b![4]!);
    bList.splice(41, 0, b![39]!, b![39]!);
    const i30 = bList.findIndex((r) => r.seq === 30);
    [bList[i30], bList[i30 + 1]] = [bList[i30 + 1]!, bList[i30]!];
    feed(tally, bList);
    // c: one value altered, one record with a seq never sent.
    const cList = c!.map((r) => (r.seq === 7 ? { ...r, ...alter(r) } : r));
    cList.push({ ...c![0]!, seq: 99 });
    feed(tally, cList);

    const findings = new Map([...tally.devices.values()].map((t) => [t.device.deviceId, analyzeDevice(t)]));
    const fa = findings.get(report.devices[0]!.deviceId)!;
    assert.deepEqual(fa.findings.lost, [
      [10, 10],
      [20, 22],
    ]);
    assert.equal(fa.counts.lost, 4);
    assert.equal(fa.counts.received, 46);
    const fb = findings.get(report.devices[1]!.deviceId)!;
    assert.equal(fb.counts.duplicates, 3);
    assert.equal(fb.counts.outOfOrder, 1);
    assert.equal(fb.counts.lost, 0);
    const fc = findings.get(report.devices[2]!.deviceId)!;
    assert.equal(fc.counts.corrupted, 1);
    assert.equal(fc.counts.unexpected, 1);
    assert.ok(fc.findings.corruptFields.length > 0);
  });

  test('unacknowledged readings are counted apart and never lost', () => {
    // Sent 20; acknowledged 1–15 and 18; 16 and 17 reached Kafka without an ack, 19–20 did not.
    const report = syntheticReport({
      devices: 1,
      sent: 20,
      acked: () => [
        [1, 15],
        [18, 18],
      ],
    });
    const tally = new Tally(report, { integrity: true });
    feed(
      tally,
      sentRecords(report, 0).filter((r) => (r.seq as number) <= 18),
    );
    const { counts } = analyzeDevice([...tally.devices.values()][0]!);
    assert.equal(counts.lost, 0);
    assert.equal(counts.acked, 16);
    assert.equal(counts.unackedReceived, 2);
    assert.equal(counts.unackedMissing, 2);
  });

  test('records of other runs are ignored and counted', () => {
    const report = syntheticReport({ devices: 1, sent: 3 });
    const tally = new Tally(report, { integrity: true });
    feed(tally, [{ deviceId: 'someone-else', seq: 1, ts: 1, receivedAt: 2 }]);
    assert.equal(tally.foreign, 1);
  });

  test('percentiles are nearest-rank', () => {
    const s = new Samples();
    for (let i = 1; i <= 2000; i++) s.add(i);
    assert.deepEqual(s.percentiles(), { count: 2000, p50: 1000, p95: 1900, p99: 1980, max: 2000 });
    assert.equal(new Samples().percentiles(), null);
  });

  test('reports round-trip through the file format', async (t) => {
    const report = syntheticReport({
      devices: 4,
      sent: 5,
      acked: (i) =>
        i === 2
          ? [
              [1, 2],
              [4, 5],
            ]
          : [[1, 5]],
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-report-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'r.json');
    await writeReport(file, report);
    assert.deepEqual(await readReport(file), report);
    assert.equal(
      serializeReport(report)
        .split('\n')
        .filter((l) => l.includes('"deviceId"')).length,
      4,
      'one device per line',
    );
    assert.equal(report.totals.unacked, 1);
  });
});

/** A different value for one of the reading's measured fields. */
function alter(r: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(r)) {
    if (typeof r[k] === 'number' && !['seq', 'ts', 'receivedAt'].includes(k))
      return { [k]: (r[k] as number) + 1 };
  }
  throw new Error('no numeric field');
}
