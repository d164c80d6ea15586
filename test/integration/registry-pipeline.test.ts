// weir with a Schema Registry, end to end: real devices → weir → real Kafka → an independent
// Confluent-format deserializer (@kafkajs/confluent-schema-registry) that fetches each writer's
// schema from a real registry (Apicurio, started by tools/registry) by the id in the value.
// "Out of reach" is a loopback TCP relay in front of the registry whose listener closes: weir
// gets ECONNREFUSED exactly as from a stopped registry, while the registry keeps its schemas for
// the reader.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { pino } from 'pino';
import { startGateway } from '../../gateway/main.ts';
import { SchemaRegistryClient } from '../../gateway/registry/client.ts';
import { decodeFramed } from '../../gateway/registry/framing.ts';
import { type LocalRegistryInfo, startRegistry, stopRegistry } from '../../tools/registry/local-registry.ts';
import { type ConsumedMessage, consumeAll, testKafkaBrokers } from '../helpers/kafka.ts';
import { connectDevice, type Fleet, publishSequence, type SentMessage } from '../support/devices.ts';
import { freePorts, writeWeirConfig } from '../support/faults.ts';
import { repoRoot, sampleConfig, startTestGateway } from '../support/gateway.ts';
import { getStatus, scrape, series, waitForStatus } from '../support/ops.ts';
import { runWeir } from '../support/weir-cli.ts';

let dir: string;
let registry: LocalRegistryInfo;
let admin: SchemaRegistryClient;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'weir-test-registry-pipeline-'));
  registry = await startRegistry({
    dir: path.join(dir, 'registry'),
    port: 0,
    detached: false,
    timeoutMs: 120_000,
  });
  admin = new SchemaRegistryClient({ urls: [registry.url], requestTimeoutMs: 5_000 });
});

after(async () => {
  admin.close();
  await stopRegistry({ dir: path.join(dir, 'registry'), timeoutMs: 15_000 });
  await rm(dir, { recursive: true, force: true });
});

/** A relay to the registry on a port of its own; down() closes its listener and its connections. */
class Relay {
  readonly port: number;
  #server: net.Server | null = null;
  readonly #sockets = new Set<net.Socket>();
  constructor(port: number) {
    this.port = port;
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}${new URL(registry.url).pathname}`;
  }
  async up(): Promise<void> {
    const target = Number(new URL(registry.url).port);
    const server = net.createServer((client) => {
      const upstream = net.connect(target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => this.#sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.#server = server;
  }
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const fleets: Fleet[] = ['city', 'factory', 'vehicle'];

async function publishAll(url: string, tag: string, perDevice: number): Promise<SentMessage[]> {
  return (
    await Promise.all(
      fleets.map(async (fleet) => {
        const device = await connectDevice(url, `${tag}-${fleet}`);
        try {
          return await publishSequence(device, fleet, `${tag}-${fleet}`, perDevice);
        } finally {
          await device.endAsync();
        }
      }),
    )
  ).flat();
}

/** Unwraps avsc's wrapped unions ({"string": "E42"}) so values compare with what devices sent. */
function plain(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
    const entries = Object.entries(v);
    if (entries.length === 1 && /^(string|int|long|double|float|boolean)$/.test(entries[0]![0]))
      return entries[0]![1];
  }
  return v;
}

/** Every record decodes, with an independent deserializer, to the values its device sent. */
async function assertDecodesToSent(messages: ConsumedMessage[], sent: SentMessage[]): Promise<void> {
  const reader = new SchemaRegistry({ host: registry.url });
  const bySeq = new Map(sent.map((m) => [`${m.deviceId}/${m.payload['seq']}`, m]));
  let checked = 0;
  for (const m of messages) {
    assert.equal(m.value![0], 0, 'magic byte');
    const record = (await reader.decode(m.value!)) as Record<string, unknown>;
    const deviceId = String(record['deviceId'] ?? record['machineId'] ?? record['vehicleId']);
    const original = bySeq.get(`${deviceId}/${record['seq']}`);
    assert.ok(original, `a record nobody sent: ${JSON.stringify(record)}`);
    for (const [field, value] of Object.entries(original.payload))
      assert.deepEqual(plain(record[field]), value, `${deviceId} seq ${record['seq']}: ${field}`);
    bySeq.delete(`${deviceId}/${record['seq']}`);
    checked++;
  }
  assert.equal(checked, sent.length);
  assert.equal(bySeq.size, 0, 'every message sent was read back');
}

function startWithRegistry(urls: string[], extra: Record<string, unknown> = {}) {
  const { loaded, topics } = sampleConfig({
    batch: { lingerMs: 5 },
    shutdown: { drainTimeoutMs: 2_000 },
    schemaRegistry: { urls, requestTimeoutMs: 1_000, ...extra },
  });
  return {
    loaded,
    topics,
    start: () =>
      startGateway(loaded, {
        log: pino({ level: process.env.WEIR_TEST_LOG ?? 'warn' }),
        backoff: { initialMs: 50, maxMs: 1000 },
        registryRetry: { initialMs: 100, maxMs: 500, refusedMs: 300 },
      }),
  };
}

test('every record weir writes, dead letters included, decodes with an independent Confluent deserializer to the values sent', async (t) => {
  const { loaded, topics, start } = startWithRegistry([registry.url]);
  const gateway = await start();
  t.after(() => gateway.stop());
  const url = `mqtt://127.0.0.1:${gateway.mqtt.port}`;

  const sent = await publishAll(url, 'online', 50);
  const bad = await connectDevice(url, 'online-bad');
  await bad.publishAsync('city/d1/air/online-bad', 'not json', { qos: 1 });
  await bad.endAsync();

  const messages = await consumeAll({
    topics: [topics.city, topics.factory, topics.vehicle],
    expected: sent.length,
    timeoutMs: 30_000,
  });
  assert.equal(messages.length, sent.length, 'every acknowledged message is in Kafka');
  await assertDecodesToSent(messages, sent);

  // the dead letter too: reason, and the raw payload the device sent
  const [dl] = await consumeAll({ topics: [topics.deadLetter], expected: 1, timeoutMs: 15_000 });
  const letter = (await new SchemaRegistry({ host: registry.url }).decode(dl!.value!)) as Record<
    string,
    unknown
  >;
  assert.equal(letter['reason'], 'invalid_json');
  assert.equal(Buffer.from(letter['payload'] as Buffer).toString(), 'not json');

  // the ids are the registry's for <topic>-value, and weir kept them beside the spool
  const cityId = decodeFramed(messages.find((m) => m.topic === topics.city)!.value!).schemaId;
  const cityText = readFileSync(path.join(repoRoot, 'schemas/smart-city.avsc'), 'utf8');
  assert.equal(await admin.lookup(`${topics.city}-value`, cityText), cityId);
  const cache = JSON.parse(readFileSync(path.join(loaded.config.spool.dir!, 'schema-ids.json'), 'utf8'));
  assert.equal(Object.values(cache.ids[`${topics.city}-value`] as Record<string, number>)[0], cityId);
  assert.ok(cache.ids[`${topics.deadLetter}-value`], 'the dead-letter schema is registered too');

  const status = await getStatus(`http://127.0.0.1:${gateway.http!.port}`);
  assert.deepEqual(status.conditions, []);
  assert.equal(series(await scrape(`http://127.0.0.1:${gateway.http!.port}`), 'weir_registry_up'), 1);
});

test('registry out of reach from start and during load: records are accepted and spooled, none lost or dead-lettered; they flow, framed, once it answers', async (t) => {
  const [port] = await freePorts(1);
  const relay = new Relay(port!);
  t.after(() => relay.down());
  const { topics, start } = startWithRegistry([relay.url]);
  const gateway = await start(); // the registry does not answer: weir starts anyway
  t.after(() => gateway.stop());
  const url = `mqtt://127.0.0.1:${gateway.mqtt.port}`;
  const ops = `http://127.0.0.1:${gateway.http!.port}`;

  const before = await publishAll(url, 'offline', 100); // every PUBACK came: spooled
  const waiting = await waitForStatus(
    ops,
    (s) => s.conditions.some((c) => c.code === 'registry_unreachable'),
    10_000,
    'registry_unreachable',
  );
  assert.match(
    waiting.conditions.find((c) => c.code === 'registry_unreachable')!.message,
    new RegExp(`${topics.city.replaceAll('.', '\\.')}-value.*wait in the spool`),
  );
  let m = await scrape(ops);
  assert.equal(series(m, 'weir_registry_up'), 0);
  assert.equal(series(m, 'weir_kafka_records_total'), 0, 'nothing sent without its schema id');
  assert.equal(gateway.spool!.stats().records, before.length);

  // the registry comes back in the middle of the load
  const load = publishAll(url, 'during', 100);
  await relay.up();
  const cameBack = performance.now();
  const sent = [...before, ...(await load)];
  const messages = await consumeAll({
    topics: [topics.city, topics.factory, topics.vehicle],
    expected: sent.length,
    timeoutMs: 30_000,
  });
  const flowedMs = performance.now() - cameBack;
  assert.equal(messages.length, sent.length, '0 lost');
  await assertDecodesToSent(messages, sent);
  m = await scrape(ops);
  assert.equal(series(m, 'weir_registry_up'), 1);
  assert.equal(series(m, 'weir_registry_schemas_waiting'), 0);
  assert.equal((await getStatus(ops)).deadLetters.total, 0, 'nothing dead-lettered');
  t.diagnostic(
    `${before.length} spooled records delivered ${flowedMs.toFixed(0)} ms after the registry came back`,
  );

  // ids known: the registry may go away again without holding anything up
  await relay.down();
  const later = await publishAll(url, 'cached', 20);
  const more = await consumeAll({
    topics: [topics.vehicle],
    expected: sent.length / 3 + 20,
    timeoutMs: 15_000,
  });
  assert.equal(more.length, sent.length / 3 + 20);
  assert.ok(later.length > 0);
});

test('a schema the registry refuses once it answers: its records wait (not sent unframed, not dead-lettered) and flow when the registry accepts it', async (t) => {
  const [port] = await freePorts(1);
  const relay = new Relay(port!);
  t.after(() => relay.down());
  const { topics, start } = startWithRegistry([relay.url]);
  const gateway = await start();
  t.after(() => gateway.stop());
  const ops = `http://127.0.0.1:${gateway.http!.port}`;

  // meanwhile someone registered an older vehicle schema without fuelPct: weir's is not BACKWARD compatible
  const subject = `${topics.vehicle}-value`;
  const vehicle = JSON.parse(readFileSync(path.join(repoRoot, 'schemas/vehicle-gps.avsc'), 'utf8'));
  const older = {
    ...vehicle,
    fields: vehicle.fields.filter((f: { name: string }) => f.name !== 'odometerKm'),
  };
  await admin.register(subject, older);

  const sent = await publishAll(`mqtt://127.0.0.1:${gateway.mqtt.port}`, 'refused', 30);
  await relay.up();
  const refused = await waitForStatus(
    ops,
    (s) => s.conditions.some((c) => c.code === 'schema_refused'),
    10_000,
    'schema_refused',
  );
  assert.match(
    refused.conditions.find((c) => c.code === 'schema_refused')!.message,
    new RegExp(
      `route vehicle-gps: .*vehicle-gps\\.avsc under subject ${subject.replaceAll('.', '\\.')}.*incompatible`,
    ),
  );
  // the other routes flow; the vehicle records wait
  const others = await consumeAll({ topics: [topics.city, topics.factory], expected: 60, timeoutMs: 15_000 });
  assert.equal(others.length, 60);
  assert.equal(series(await scrape(ops), 'weir_kafka_records_total'), 60, 'the vehicle records wait');

  // an operator relaxes the subject's rule (a field added without default is FORWARD compatible;
  // Apicurio reads NONE on a subject as "use the global rule"): no restart needed
  const res = await fetch(`${registry.url}/config/${encodeURIComponent(subject)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: 'FORWARD' }),
  });
  assert.equal(res.status, 200, await res.text());
  const vehicles = await consumeAll({ topics: [topics.vehicle], expected: 30, timeoutMs: 15_000 });
  assert.equal(vehicles.length, 30);
  await assertDecodesToSent([...others, ...vehicles], sent);
  assert.equal((await getStatus(ops)).deadLetters.total, 0, 'nothing dead-lettered');
});

test('weir start refuses (exit 2, one sentence) a schema incompatible with the latest registered version', async (t) => {
  const work = await mkdtemp(path.join(dir, 'refuse-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const [mqttPort] = await freePorts(1);
  const { file, topics } = writeWeirConfig({
    dir: work,
    port: mqttPort!,
    brokers: testKafkaBrokers().join(','),
    topicPrefix: `test.refuse.${path.basename(work)}`,
    extra: { schemaRegistry: { urls: [registry.url] } },
  });
  const subject = `${topics.city}-value`;
  const city = JSON.parse(readFileSync(path.join(repoRoot, 'schemas/smart-city.avsc'), 'utf8'));
  await admin.register(subject, {
    ...city,
    fields: city.fields.filter((f: { name: string }) => f.name !== 'sensorType'),
  });

  const run = await runWeir(['start', '--config', file], { timeoutMs: 60_000 });
  assert.equal(run.code, 2, run.stdout + run.stderr);
  const line = run.stderr.trim();
  assert.equal(line.split('\n').length, 1, line);
  assert.match(
    line,
    /^weir start: route smart-city: the schema registry refuses .*smart-city\.avsc under subject /,
  );
  assert.ok(line.includes(subject), line);
  assert.match(line, /incompatible with the latest version .*sensorType/);
});

test('weir tail prints records decoded: Confluent-framed via the registry, plain via the fingerprint header, dead letters with reason and raw payload', async (t) => {
  const framed = startWithRegistry([registry.url]);
  const withRegistry = await framed.start();
  t.after(() => withRegistry.stop());
  const plainGateway = await startTestGateway(t); // no registry: plain Avro + fingerprint header
  const sentFramed = await publishAll(`mqtt://127.0.0.1:${withRegistry.mqtt.port}`, 'tail', 3);
  const sentPlain = await publishAll(plainGateway.url, 'tail-plain', 3);
  const bad = await connectDevice(`mqtt://127.0.0.1:${withRegistry.mqtt.port}`, 'tail-bad');
  await bad.publishAsync('city/d1/air/tail-bad', Buffer.from('{"seq": 1, "pm25UgM3": "lots"}'), { qos: 1 });
  await bad.endAsync();
  const brokers = testKafkaBrokers().join(',');
  const tail = (args: string[]) =>
    runWeir(['tail', ...args, '--brokers', brokers, '--registry', registry.url], { timeoutMs: 60_000 });

  // confluent, every record of one device (by key), as JSON lines
  const vehicle = sentFramed.filter((m) => m.fleet === 'vehicle');
  const json = await tail([
    framed.topics.vehicle,
    '--from',
    'beginning',
    '--count',
    '3',
    '--json',
    '--key',
    'tail-vehicle',
  ]);
  assert.equal(json.code, 0, json.stderr);
  const lines = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  lines.forEach((l, i) => {
    assert.equal(l.wireFormat, 'confluent');
    assert.ok(l.schemaId > 0);
    assert.equal(l.key, 'tail-vehicle');
    for (const [field, value] of Object.entries(vehicle[i]!.payload))
      assert.deepEqual(l.value[field], value, field);
  });

  // plain (no registry on that gateway), human-readable
  const human = await tail([plainGateway.topics.city, '--from', '10m', '--count', '3']);
  assert.equal(human.code, 0, human.stderr);
  const city = sentPlain.filter((m) => m.fleet === 'city');
  const rows = human.stdout.trim().split('\n');
  assert.equal(rows.length, 3);
  rows.forEach((row, i) => {
    assert.match(row, /key=tail-plain-city .*\[plain weir\.iot\.smartcity\.SmartCityReading\]$/);
    assert.ok(row.includes(`"pm25UgM3":${city[i]!.payload['pm25UgM3']}`), row);
  });

  // a dead letter: reason, detail, raw payload
  const dl = await tail([framed.topics.deadLetter, '--from', 'beginning', '--count', '1']);
  assert.equal(dl.code, 0, dl.stderr);
  assert.match(
    dl.stdout,
    /DEAD LETTER schema_mismatch: .*pm25UgM3: expected null or double, got "lots" .*route smart-city\) payload "\{\\"seq\\": 1, \\"pm25UgM3\\": \\"lots\\"\}"/,
  );
});
