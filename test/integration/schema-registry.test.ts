// The registry client, the id cache and the Confluent framing against a real Apicurio Registry
// (started by tools/registry from Maven Central, in a temp dir on a free loopback port), with an
// independent Confluent-format deserializer (@kafkajs/confluent-schema-registry) as the reader.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { type LoadedSchema, loadSchema } from '../../gateway/codec/avro.ts';
import { RegistryError, SchemaRegistryClient } from '../../gateway/registry/client.ts';
import { encodeFramed } from '../../gateway/registry/framing.ts';
import { SchemaIdCache } from '../../gateway/registry/id-cache.ts';
import { SchemaIdResolver } from '../../gateway/registry/schema-ids.ts';
import { avroFullName, subjectName } from '../../gateway/registry/subject.ts';
import { type LocalRegistryInfo, startRegistry, stopRegistry } from '../../tools/registry/local-registry.ts';
import { freePorts } from '../support/faults.ts';

const SCHEMAS = ['smart-city', 'factory-line', 'vehicle-gps', 'deadletter'] as const;
const schemaPath = (name: string) => path.join(import.meta.dirname, '..', '..', 'schemas', `${name}.avsc`);
const schemaText = (name: string) => readFileSync(schemaPath(name), 'utf8');

let dir: string;
let registry: LocalRegistryInfo;
const closers: Array<() => unknown> = [];

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'weir-test-registry-'));
  registry = await startRegistry({
    dir: path.join(dir, 'registry'),
    port: 0,
    detached: false,
    timeoutMs: 120_000,
  });
});

after(async () => {
  for (const close of closers) await close();
  await stopRegistry({ dir: path.join(dir, 'registry'), timeoutMs: 15_000 });
  await rm(dir, { recursive: true, force: true });
});

function client(urls: string[] = [registry.url], requestTimeoutMs = 5_000): SchemaRegistryClient {
  const c = new SchemaRegistryClient({ urls, requestTimeoutMs });
  closers.push(() => c.close());
  return c;
}

/** A topic name of its own per test, so tests do not share subjects. */
const topic = (what: string) => `weir.test.${what}.${Math.random().toString(36).slice(2, 8)}`;

test("weir's schemas register under each naming strategy; the ids are stable and lead back to the same schema", async () => {
  const c = client();
  const ids = new Map<string, number>();
  for (const name of SCHEMAS) {
    const loaded = loadSchema(schemaPath(name));
    const fullName = avroFullName(JSON.parse(schemaText(name)));
    const t = topic(name);
    for (const strategy of ['TopicName', 'RecordName', 'TopicRecordName'] as const) {
      const subject = subjectName(strategy, t, fullName);
      const id = await c.register(subject, schemaText(name));
      assert.ok(id > 0, `${name} under ${subject} got id ${id}`);
      assert.equal(await c.register(subject, schemaText(name)), id, 'registering again returns the same id');
      assert.equal(await c.lookup(subject, schemaText(name)), id, 'a lookup finds it');
      // the same schema has one id whatever the subject (as in Confluent's registry)
      if (ids.has(name)) assert.equal(id, ids.get(name));
      ids.set(name, id);
    }
    const back = avro.Type.forSchema(JSON.parse(await c.schemaById(ids.get(name)!)));
    assert.equal(
      back.fingerprint('sha256').toString('hex'),
      loaded.fingerprint,
      'the id leads to the same schema',
    );
  }
  assert.equal(new Set(ids.values()).size, SCHEMAS.length, 'different schemas get different ids');
  assert.equal(await c.lookup(`${topic('never')}-value`, schemaText('smart-city')), null);
  await assert.rejects(c.schemaById(987_654), { code: 'WEIR_REGISTRY_NOT_FOUND', retriable: false });
});

test('compatibility: an optional field with a default passes, a new required field is refused', async () => {
  const c = client();
  const subject = `${topic('compat')}-value`;
  const base = JSON.parse(schemaText('smart-city'));
  const withOptional = {
    ...base,
    fields: [...base.fields, { name: 'humidityPct', type: ['null', 'double'], default: null, doc: 'test' }],
  };
  const withRequired = {
    ...base,
    fields: [...base.fields, { name: 'ownerId', type: 'string', doc: 'test' }],
  };

  const none = await c.checkCompatibility(subject, base);
  assert.equal(none.compatible, true, 'a subject without versions accepts anything');
  const v1 = await c.register(subject, base);

  const ok = await c.checkCompatibility(subject, withOptional);
  assert.deepEqual([ok.compatible, ok.subjectExists], [true, true]);
  const bad = await c.checkCompatibility(subject, withRequired);
  assert.deepEqual([bad.compatible, bad.subjectExists], [false, true]);

  // what the check predicts is what registration does
  await assert.rejects(c.register(subject, withRequired), (err: unknown) => {
    assert.ok(err instanceof RegistryError);
    assert.equal(err.code, 'WEIR_REGISTRY_INCOMPATIBLE');
    assert.equal(err.retriable, false);
    assert.equal(err.status, 409);
    return true;
  });
  const v2 = await c.register(subject, withOptional);
  assert.notEqual(v2, v1);
  await assert.rejects(c.register(subject, '{"type": "record", "name": '), {
    code: 'WEIR_REGISTRY_SCHEMA_INVALID',
    retriable: false,
  });
});

test('a value framed by weir decodes with an independent Confluent deserializer, for every schema', async () => {
  const c = client();
  const reader = new SchemaRegistry({ host: registry.url });
  for (const name of SCHEMAS) {
    const loaded: LoadedSchema = loadSchema(schemaPath(name));
    const id = await c.register(`${topic(name)}-value`, schemaText(name));
    const record: unknown = loaded.type.random();
    const body = loaded.type.toBuffer(record);
    const decoded = await reader.decode(encodeFramed(id, body));
    // the reader got the writer's schema by id and decoded the same record, field for field
    assert.deepEqual(loaded.type.toBuffer(decoded), body, name);
    assert.deepEqual(
      JSON.parse(loaded.type.toString(decoded)),
      JSON.parse(loaded.type.toString(record)),
      name,
    );
  }
});

/** A TCP server that accepts connections and never answers: a hung registry. */
async function hungServer(): Promise<{ url: string; server: Server }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

test('several URLs: a refused one and a hung one are skipped within the timeout, then the working one is tried first', async () => {
  const [deadPort] = await freePorts(1);
  const dead = `http://127.0.0.1:${deadPort}`;
  const hung = (await hungServer()).url;
  const timeoutMs = 400;
  const c = client([dead, hung, registry.url], timeoutMs);
  const subject = `${topic('failover')}-value`;

  let t0 = performance.now();
  const id = await c.register(subject, schemaText('vehicle-gps'));
  let took = performance.now() - t0;
  assert.ok(took >= timeoutMs, `waited for the hung URL (${took.toFixed(0)} ms)`);
  assert.ok(took < timeoutMs + 3_000, `bounded (${took.toFixed(0)} ms)`);

  t0 = performance.now();
  assert.equal(await c.lookup(subject, schemaText('vehicle-gps')), id);
  took = performance.now() - t0;
  assert.ok(took < timeoutMs, `the URL that answered is asked first (${took.toFixed(0)} ms)`);

  // with no working URL: a retriable error, after at most one timeout per URL
  const offline = client([dead, hung], timeoutMs);
  t0 = performance.now();
  await assert.rejects(offline.register(subject, schemaText('vehicle-gps')), (err: unknown) => {
    assert.ok(err instanceof RegistryError);
    assert.equal(err.code, 'WEIR_REGISTRY_UNREACHABLE');
    assert.equal(err.retriable, true);
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${deadPort}.*ECONNREFUSED`));
    assert.match(err.message, /no answer within 400 ms/);
    return true;
  });
  took = performance.now() - t0;
  assert.ok(took < 2 * timeoutMs + 3_000, `bounded (${took.toFixed(0)} ms)`);
});

test('offline start: ids learnt online are served from the cache file after a restart without the registry', async () => {
  const spoolDir = await mkdtemp(path.join(dir, 'spool-'));
  const subject = (name: string) => `${topic('offline')}-${name}-value`;
  const subjects = Object.fromEntries(SCHEMAS.map((n) => [n, subject(n)])) as Record<string, string>;

  // online: ids come from the registry and land in the cache file
  const online = new SchemaIdResolver({
    client: client(),
    cache: (await SchemaIdCache.open(spoolDir)).cache,
  });
  const learnt = new Map<string, number>();
  for (const name of SCHEMAS) {
    const loaded = loadSchema(schemaPath(name));
    const schema = { fingerprint: loaded.fingerprint, schema: schemaText(name) };
    const [a, b] = await Promise.all([
      online.resolve(subjects[name]!, schema),
      online.resolve(subjects[name]!, schema),
    ]);
    assert.equal(a, b);
    learnt.set(name, a);
  }

  // "restart" with the registry out of reach: a fresh cache object from the same file
  const [deadPort] = await freePorts(1);
  const opened = await SchemaIdCache.open(spoolDir);
  assert.equal(opened.problem, undefined);
  const offline = new SchemaIdResolver({
    client: client([`http://127.0.0.1:${deadPort}`], 300),
    cache: opened.cache,
  });
  for (const name of SCHEMAS) {
    const loaded = loadSchema(schemaPath(name));
    assert.equal(offline.cached(subjects[name]!, loaded.fingerprint), learnt.get(name));
    assert.equal(
      await offline.resolve(subjects[name]!, { fingerprint: loaded.fingerprint, schema: schemaText(name) }),
      learnt.get(name),
    );
  }
  // a schema it never saw: unknown offline, and the error says retrying later can help
  const changed = JSON.parse(schemaText('smart-city'));
  changed.fields.push({ name: 'extra', type: ['null', 'int'], default: null });
  const type = avro.Type.forSchema(changed);
  await assert.rejects(
    offline.resolve(subjects['smart-city']!, {
      fingerprint: type.fingerprint('sha256').toString('hex'),
      schema: changed,
    }),
    { code: 'WEIR_REGISTRY_UNREACHABLE', retriable: true },
  );

  // back online with autoRegister off: a registered schema is found, an unregistered one is refused for good
  const readOnly = new SchemaIdResolver({ client: client(), cache: opened.cache, autoRegister: false });
  await assert.rejects(
    readOnly.resolve(subjects['smart-city']!, {
      fingerprint: type.fingerprint('sha256').toString('hex'),
      schema: changed,
    }),
    { code: 'WEIR_REGISTRY_NOT_FOUND', retriable: false },
  );
});
