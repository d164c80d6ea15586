// `weir verify` catches what it must. Records are written to real Kafka topics exactly as the
// gateway writes them (its own router and encoder, key, headers) — then some are removed,
// duplicated, swapped and altered on purpose. verify must report each, and exit 1 on the loss.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import kafkajs, { type Message } from 'kafkajs';
import { readingPayload } from '../../device-sim/payloads.ts';
import { createModel } from '../../device-sim/plan.ts';
import { writeReport } from '../../device-sim/report.ts';
import type { VerifyResult } from '../../device-sim/verify/verify.ts';
import { loadConfigFile } from '../../gateway/config/load.ts';
import { compileRoutes } from '../../gateway/intake/routes.ts';
import { Router } from '../../gateway/router/router.ts';
import { createTopic, testKafka, testKafkaBrokers } from '../helpers/kafka.ts';
import { examplePath } from '../support/gateway.ts';
import { modelSettings, syntheticReport } from '../support/sim-report.ts';
import { runWeir, spawnWeir, tempDir, waitForOutput } from '../support/weir-cli.ts';

const { ConfigResourceTypes } = kafkajs;
const routes = compileRoutes(loadConfigFile(examplePath));
const router = new Router(routes);

interface Sent {
  seq: number;
  message: Message;
}

/** The Kafka messages the gateway would produce for a device's readings 1…count. */
function gatewayMessages(
  report: ReturnType<typeof syntheticReport>,
  index: number,
  alter?: (seq: number, fields: Record<string, unknown>) => void,
): Sent[] {
  const d = report.devices[index]!;
  const model = createModel(modelSettings(report.config.seed), d.fleet, d.index, d.deviceId);
  const match = router.match(d.topic)!;
  return Array.from({ length: d.sent }, (_, i) => {
    const seq = i + 1;
    const fields = model.next();
    alter?.(seq, fields);
    const ts = report.startedAtMs + i * 100;
    const decoded = match.route.decoder.decode(readingPayload(seq, ts, fields), match.segments, ts + 2);
    if (!decoded.ok) throw new Error(decoded.detail);
    return {
      seq,
      message: {
        key: d.deviceId,
        value: decoded.value,
        timestamp: String(ts + 2),
        headers: { ...match.route.fixedHeaders, 'mqtt-topic': Buffer.from(d.topic) },
      },
    };
  });
}

describe('weir verify finds what is wrong', () => {
  test('removed, duplicated, swapped and altered records are reported; loss exits 1', async (t) => {
    const id = randomUUID().slice(0, 8);
    const topics = {
      city: `test.${id}.v.city`,
      factory: `test.${id}.v.factory`,
      vehicle: `test.${id}.v.vehicle`,
    };
    for (const topic of Object.values(topics)) await createTopic(topic);
    // One device per fleet (the mix interleaves: city, factory, vehicle), 40 readings each, all acknowledged.
    const report = syntheticReport({ devices: 3, sent: 40, idPrefix: `sim${id}`, seed: 31 });
    const [city, factory, vehicle] = [0, 1, 2].map((i) => report.devices[i]!);
    assert.deepEqual(
      [city!.fleet, factory!.fleet, vehicle!.fleet],
      ['smart-city', 'factory-line', 'vehicle-gps'],
    );

    // smart-city: seq 10 and 25–27 removed (lost 4).
    const cityMsgs = gatewayMessages(report, 0).filter((m) => m.seq !== 10 && (m.seq < 25 || m.seq > 27));
    // factory-line: seq 5 once more, seq 33 twice more (3 duplicates).
    const f = gatewayMessages(report, 1);
    const factoryMsgs = [...f.slice(0, 5), f[4]!, ...f.slice(5, 33), f[32]!, f[32]!, ...f.slice(33)];
    // vehicle-gps: 12 and 13 swapped, 30 moved after 35 (2 out of order); seq 20 reports another speed.
    const v = gatewayMessages(report, 2, (seq, fields) => {
      if (seq === 20) fields.speedKmh = (fields.speedKmh as number) + 7;
    });
    const order = [...Array(40).keys()].map((i) => i + 1);
    [order[11], order[12]] = [order[12]!, order[11]!];
    order.splice(order.indexOf(30), 1);
    order.splice(order.indexOf(35) + 1, 0, 30);
    const vehicleMsgs = order.map((seq) => v[seq - 1]!);

    const producer = testKafka('weir-test-verify').producer();
    await producer.connect();
    t.after(() => producer.disconnect());
    await producer.send({ topic: topics.city, messages: cityMsgs.map((m) => m.message) });
    await producer.send({ topic: topics.factory, messages: factoryMsgs.map((m) => m.message) });
    await producer.send({ topic: topics.vehicle, messages: vehicleMsgs.map((m) => m.message) });

    const file = path.join(tempDir(t, 'weir-verify-'), 'report.json');
    await writeReport(file, report);
    const args = [
      ...['verify', '--report', file, '--kafka-brokers', testKafkaBrokers().join(',')],
      ...[
        '--topic',
        `smart-city=${topics.city},factory-line=${topics.factory},vehicle-gps=${topics.vehicle}`,
      ],
      ...['--wait', '1s'],
    ];

    // While verify runs, another producer keeps appending to the topics: verify reads up to the
    // end offsets it found at its start and stops by itself.
    const other = gatewayMessages(syntheticReport({ devices: 1, sent: 1, idPrefix: `other${id}` }), 0)[0]!
      .message;
    let appending = true;
    const noise = (async () => {
      while (appending) {
        await producer.send({ topic: topics.city, messages: [other] });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const json = await runWeir([...args, '--json'], { timeoutMs: 60_000 });
    appending = false;
    await noise;

    assert.equal(json.code, 1, `exit 1 on loss:\n${json.stdout}${json.stderr}`);
    const r = JSON.parse(json.stdout) as VerifyResult;
    assert.equal(r.verdict, 'fail');
    const byFleet = Object.fromEntries(r.fleets.map((x) => [x.fleet, x]));
    const pick = (x: (typeof r.fleets)[number]) => ({
      acked: x.acked,
      received: x.received,
      lost: x.lost,
      duplicates: x.duplicates,
      outOfOrder: x.outOfOrder,
      corrupted: x.corrupted,
    });
    assert.deepEqual(pick(byFleet['smart-city']!), {
      acked: 40,
      received: 36,
      lost: 4,
      duplicates: 0,
      outOfOrder: 0,
      corrupted: 0,
    });
    assert.deepEqual(pick(byFleet['factory-line']!), {
      acked: 40,
      received: 40,
      lost: 0,
      duplicates: 3,
      outOfOrder: 0,
      corrupted: 0,
    });
    assert.deepEqual(pick(byFleet['vehicle-gps']!), {
      acked: 40,
      received: 40,
      lost: 0,
      duplicates: 0,
      outOfOrder: 2,
      corrupted: 1,
    });
    const cityFinding = r.findings.find((x) => x.deviceId === city!.deviceId)!;
    assert.deepEqual(cityFinding.lost, [
      [10, 10],
      [25, 27],
    ]);
    assert.deepEqual(r.findings.find((x) => x.deviceId === vehicle!.deviceId)!.corruptFields, ['speedKmh']);
    assert.equal(r.read.complete, true);
    assert.equal(r.read.undecodable, 0);
    assert.equal(
      r.read.records - r.read.foreign,
      cityMsgs.length + factoryMsgs.length + vehicleMsgs.length,
      'records of other devices are counted apart',
    );

    const human = await runWeir([...args, '--quiet'], { timeoutMs: 60_000 });
    assert.equal(human.code, 1);
    assert.match(human.stdout, new RegExp(`${city!.deviceId}: lost seq 10, 25–27`));
    assert.match(human.stdout, new RegExp(`${factory!.deviceId}: 3 duplicates`));
    assert.match(
      human.stdout,
      new RegExp(`${vehicle!.deviceId}: 2 out of order; 1 corrupted \\(speedKmh\\)`),
    );
    assert.match(
      human.stdout,
      /^FAIL: 4 acknowledged messages are missing from Kafka; 1 record differs from what the device sent$/m,
    );
  });

  test('a missing topic, an unreadable report and bad flags are told apart by exit code', async (t) => {
    const report = syntheticReport({ devices: 3, sent: 5 });
    const file = path.join(tempDir(t, 'weir-verify-'), 'report.json');
    await writeReport(file, report);
    const brokers = testKafkaBrokers().join(',');
    const missing = await runWeir([
      ...['verify', '--report', file, '--kafka-brokers', brokers, '--wait', '0s', '--quiet'],
      '--topic',
      `smart-city=test.none.${randomUUID()},factory-line=test.none.${randomUUID()},vehicle-gps=test.none.${randomUUID()}`,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /does not exist/);
    const unreadable = await runWeir([
      'verify',
      '--report',
      path.join(tmpdir(), `no-such-${randomUUID()}.json`),
    ]);
    assert.equal(unreadable.code, 2);
    assert.match(unreadable.stderr, /WEIR_REPORT_UNREADABLE/);
    assert.equal((await runWeir(['verify', '--from', 'yesterday'])).code, 2);
    const p = spawnWeir(['verify', '--report', file, '--kafka-brokers', '127.0.0.1:1', '--timeout', '5s']);
    await waitForOutput(p, (all) => all.includes('cannot read Kafka'), 60_000);
    assert.equal(await p.exited, 3);
  });

  test('--prepare-topics creates missing fleet topics with append time and switches existing ones, keeping their settings', async (t) => {
    const id = randomUUID().slice(0, 8);
    const existing = `test.${id}.prep.city`;
    const missing = `test.${id}.prep.factory`;
    const admin = testKafka('weir-test-prepare').admin();
    await admin.connect();
    t.after(() => admin.disconnect());
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: existing, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
      ],
    });
    const args = ['verify', '--prepare-topics', '--kafka-brokers', testKafkaBrokers().join(',')];
    const topicArgs = ['--topic', `smart-city=${existing},factory-line=${missing},vehicle-gps=${existing}`];
    const first = await runWeir([...args, ...topicArgs]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`${missing}: created \\(LogAppendTime\\)`));
    assert.match(first.stdout, new RegExp(`${existing}: switched \\(LogAppendTime\\)`));
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [existing, missing].map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    });
    const config = (topic: string, name: string) =>
      described.resources
        .find((r) => r.resourceName === topic)!
        .configEntries.find((e) => e.configName === name)!.configValue;
    assert.equal(config(existing, 'message.timestamp.type'), 'LogAppendTime');
    assert.equal(config(existing, 'retention.ms'), '3600000', 'other settings of the topic are kept');
    assert.equal(config(missing, 'message.timestamp.type'), 'LogAppendTime');
    const again = await runWeir([...args, ...topicArgs]);
    assert.match(again.stdout, new RegExp(`${existing}: already LogAppendTime`));
  });
});
