// `weir tail TOPIC`: reads a Kafka topic and prints its records decoded — the way a user checks
// that data arrives. Values in the Confluent wire format are decoded with the writer's schema
// from the registry (by the id in the value); plain values with the schema their
// `avro-schema-fingerprint` header names, from schemas/*.avsc and the config's routes. Dead
// letters show their reason, detail and the raw payload.
//
// Reads with kafkajs: it has a consumer group API that starts from the beginning or the end, its
// admin client finds offsets by time, and `weir verify` already reads with it (same SASL/TLS
// mapping). A fresh group per run; nothing is committed.
// Exit codes: 0 done (--count reached, or Ctrl-C), 1 Kafka or the registry failed, 2 usage.
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import avro from 'avsc';
import kafkajs, { type IHeaders } from 'kafkajs';
import { loadSchema } from '../codec/avro.ts';
import { NO_SECURITY } from '../config/kafka-security.ts';
import { type LoadedConfig, loadConfigFile } from '../config/load.ts';
import { errorMessage } from '../errors.ts';
import { SchemaRegistryClient } from '../registry/client.ts';
import { FINGERPRINT_HEADER } from '../registry/framer.ts';
import { HEADER_BYTES, MAGIC_BYTE } from '../registry/framing.ts';
import { ignoreKafkajsNegativeTimeoutWarnings } from '../sinks/kafka/kafkajs-warnings.ts';
import { kafkajsSecurity } from '../sinks/kafka/security.ts';

const HELP = `usage: weir tail TOPIC [options]

Prints the records of a Kafka topic decoded: Confluent wire format (schema from the registry by
id) and plain Avro (schema named by the avro-schema-fingerprint header), dead letters with their
reason and raw payload. Follows the topic until Ctrl-C or --count records.

options:
      --from WHERE        beginning | end (default) | a time: ISO 8601 (2026-01-31T12:00Z),
                          epoch milliseconds, or an age (30s, 15m, 2h, 1d ago)
      --key DEVICE        only records with this key (the device id)
  -n, --count N           stop after N records
      --json              one JSON object per line (topic, partition, offset, timestamp, key,
                          headers, wireFormat, schemaId, schema, value)
  -c, --config FILE       take brokers, Kafka security, the registry and route schemas from it
      --brokers LIST      host:port,... (default: the config's, else WEIR_KAFKA_BROKERS, else
                          127.0.0.1:19092)
      --registry URL      Schema Registry URL (default: the config's schemaRegistry)
  -h, --help              this help
`;

const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));
const DEAD_LETTER = 'weir.gateway.DeadLetter';

export async function tailCommand(args: string[]): Promise<number> {
  let opts: TailOptions;
  try {
    const parsed = parse(args);
    if (parsed.help) {
      process.stdout.write(HELP);
      return 0;
    }
    opts = parsed.opts;
  } catch (err) {
    process.stderr.write(`weir tail: ${errorMessage(err)}\n\n${HELP}`);
    return 2;
  }
  try {
    return await tail(opts);
  } catch (err) {
    process.stderr.write(`weir tail: ${errorMessage(err)}\n`);
    return 1;
  }
}

interface TailOptions {
  readonly topic: string;
  readonly from: 'beginning' | 'end' | number;
  readonly key: string | undefined;
  readonly count: number | undefined;
  readonly json: boolean;
  readonly brokers: string[];
  readonly loaded: LoadedConfig | null;
  readonly registryUrl: string | undefined;
}

function parse(args: string[]): { help: true } | { help: false; opts: TailOptions } {
  const { values, positionals } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      key: { type: 'string' },
      count: { type: 'string', short: 'n' },
      json: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
      brokers: { type: 'string' },
      registry: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return { help: true };
  if (positionals.length !== 1) throw new Error('give one TOPIC');
  let count: number | undefined;
  if (values.count !== undefined) {
    count = Number(values.count);
    if (!Number.isInteger(count) || count < 1) throw new Error('--count must be a whole number ≥ 1');
  }
  const loaded = values.config === undefined ? null : loadConfigFile(values.config);
  const brokers = (values.brokers ?? process.env.WEIR_KAFKA_BROKERS)?.split(',').map((b) => b.trim()) ??
    loaded?.config.kafka.brokers ?? ['127.0.0.1:19092'];
  return {
    help: false,
    opts: {
      topic: positionals[0]!,
      from: parseFrom(values.from ?? 'end', Date.now()),
      key: values.key,
      count,
      json: values.json ?? false,
      brokers: brokers.filter((b) => b !== ''),
      loaded,
      registryUrl: values.registry,
    },
  };
}

/** beginning | end | ISO time | epoch ms | an age such as 15m (that long ago). */
export function parseFrom(s: string, now: number): 'beginning' | 'end' | number {
  if (s === 'beginning' || s === 'end') return s;
  const age = /^(\d+)(ms|s|m|h|d)$/.exec(s);
  if (age !== null) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 'ms'];
    return now - Number(age[1]) * unit;
  }
  if (/^\d{10,}$/.test(s)) return Number(s);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`--from: expected beginning, end, a time or an age (15m), not '${s}'`);
  return t;
}

async function tail(o: TailOptions): Promise<number> {
  const decoder = new ValueDecoder(o.loaded, o.registryUrl);
  ignoreKafkajsNegativeTimeoutWarnings();
  const kafka = new kafkajs.Kafka({
    clientId: 'weir-tail',
    brokers: o.brokers,
    logLevel: kafkajs.logLevel.NOTHING,
    connectionTimeout: 5000,
    retry: { retries: 3 },
    ...kafkajsSecurity(o.loaded?.kafkaSecurity ?? NO_SECURITY),
  });
  let seekTo: Array<{ partition: number; offset: string }> = [];
  if (typeof o.from === 'number') {
    const admin = kafka.admin();
    await admin.connect();
    try {
      seekTo = await admin.fetchTopicOffsetsByTimestamp(o.topic, o.from);
    } finally {
      await admin.disconnect();
    }
  }
  const consumer = kafka.consumer({ groupId: `weir-tail-${randomUUID()}`, maxWaitTimeInMs: 500 });
  let printed = 0;
  let done: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    done = resolve;
  });
  const onSignal = () => done(0);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [o.topic], fromBeginning: o.from === 'beginning' });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (o.count !== undefined && printed >= o.count) return;
        const key = message.key?.toString() ?? null;
        if (o.key !== undefined && key !== o.key) return;
        const headers = textHeaders(message.headers);
        const decoded = await decoder.decode(message.value, headers);
        const rec = {
          topic: o.topic,
          partition,
          offset: Number(message.offset),
          timestamp: new Date(Number(message.timestamp)).toISOString(),
          key,
          headers,
          ...decoded,
        };
        process.stdout.write(`${o.json ? JSON.stringify(rec, jsonValue) : human(rec)}\n`);
        printed++;
        if (o.count !== undefined && printed >= o.count) done(0);
      },
    });
    for (const s of seekTo) consumer.seek({ topic: o.topic, partition: s.partition, offset: s.offset });
    return await finished;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await consumer.disconnect().catch(() => {});
    decoder.close();
  }
}

interface Decoded {
  wireFormat: 'confluent' | 'plain' | 'unknown';
  schemaId?: number;
  schema?: string;
  value?: unknown;
  deadLetter?: boolean;
  error?: string;
}

/** Decodes values as weir writes them. */
class ValueDecoder {
  readonly #byFingerprint = new Map<string, avro.Type>();
  readonly #byId = new Map<number, Promise<avro.Type>>();
  readonly #registry: SchemaRegistryClient | null;

  constructor(loaded: LoadedConfig | null, registryUrl: string | undefined) {
    const files = readdirSync(SCHEMAS_DIR)
      .filter((f) => f.endsWith('.avsc'))
      .map((f) => path.join(SCHEMAS_DIR, f));
    for (const file of [...files, ...(loaded?.schemaPaths ?? [])]) {
      const s = loadSchema(file);
      this.#byFingerprint.set(s.fingerprint, s.type);
    }
    const options =
      registryUrl !== undefined
        ? { urls: [registryUrl] }
        : loaded?.registry !== null && loaded?.registry !== undefined
          ? loaded.registry
          : null;
    this.#registry = options === null ? null : new SchemaRegistryClient(options);
  }

  async decode(value: Buffer | null, headers: Record<string, string | string[]>): Promise<Decoded> {
    if (value === null) return { wireFormat: 'unknown', error: 'no value (a tombstone)' };
    const fingerprint = headers[FINGERPRINT_HEADER];
    const local = this.#byFingerprint.get(typeof fingerprint === 'string' ? fingerprint : '');
    let problem = '';
    if (value.length >= HEADER_BYTES && value[0] === MAGIC_BYTE) {
      const schemaId = value.readUInt32BE(1);
      let type = local;
      if (this.#registry !== null) {
        try {
          type = await this.#schemaById(schemaId);
        } catch (err) {
          problem = `schema ${schemaId}: ${errorMessage(err)}`;
        }
      }
      const v = type === undefined ? undefined : exactly(type, value, HEADER_BYTES);
      if (v !== undefined) return result('confluent', type!, v, schemaId);
    }
    if (local !== undefined) {
      const v = exactly(local, value, 0);
      if (v !== undefined) return result('plain', local, v);
    }
    return {
      wireFormat: 'unknown',
      value: value.toString('base64'),
      error:
        problem ||
        (local === undefined
          ? 'no schema for this value: not Confluent-framed with a known id, and no known avro-schema-fingerprint header'
          : 'the value does not decode with its schema'),
    };
  }

  close(): void {
    this.#registry?.close();
  }

  #schemaById(id: number): Promise<avro.Type> {
    let p = this.#byId.get(id);
    if (p === undefined) {
      p = this.#registry!.schemaById(id).then((text) =>
        avro.Type.forSchema(JSON.parse(text), { wrapUnions: 'auto' }),
      );
      p.catch(() => this.#byId.delete(id));
      this.#byId.set(id, p);
    }
    return p;
  }
}

function exactly(type: avro.Type, buf: Buffer, offset: number): unknown {
  try {
    const { value, offset: end } = type.decode(buf, offset);
    return end === buf.length ? value : undefined;
  } catch {
    return undefined;
  }
}

function result(
  wireFormat: 'confluent' | 'plain',
  type: avro.Type,
  value: unknown,
  schemaId?: number,
): Decoded {
  const name = type.name ?? '';
  return {
    wireFormat,
    ...(schemaId !== undefined && { schemaId }),
    schema: name,
    ...(name === DEAD_LETTER && { deadLetter: true }),
    value,
  };
}

/** Headers as text; a name Kafka carries more than once (an MQTT 5 user property sent twice) has every value. */
function textHeaders(h: IHeaders | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map((one) => one.toString()) : v.toString();
  }
  return out;
}

/** JSON for Avro values: bytes as UTF-8 text when they are, else base64; longs as numbers. */
function jsonValue(_key: string, v: unknown): unknown {
  if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer') {
    const buf = Buffer.from((v as { data: number[] }).data);
    return payloadText(buf);
  }
  if (typeof v === 'bigint') return Number(v);
  return v;
}

function payloadText(buf: Buffer): string | { base64: string } {
  const text = buf.toString('utf8');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters
  return Buffer.from(text, 'utf8').equals(buf) && !/[\u0000-\u0008\u000e-\u001f]/.test(text)
    ? text
    : { base64: buf.toString('base64') };
}

function human(
  r: {
    partition: number;
    offset: number;
    timestamp: string;
    key: string | null;
  } & Decoded,
): string {
  const where = `${r.timestamp} p${r.partition}@${r.offset} key=${r.key ?? '(none)'}`;
  if (r.wireFormat === 'unknown') return `${where} UNDECODED ${r.error}: ${String(r.value ?? '')}`;
  const schema = `${r.wireFormat === 'confluent' ? `id ${r.schemaId} ` : 'plain '}${r.schema}`;
  if (r.deadLetter) {
    const d = r.value as {
      reason: string;
      detail: string;
      mqttTopic: string;
      clientId: string;
      route: string | null;
      payload: Buffer;
    };
    const payload = payloadText(d.payload);
    return `${where} DEAD LETTER ${d.reason}: ${d.detail} (topic ${d.mqttTopic}, client ${d.clientId}, route ${d.route ?? '-'}) payload${typeof payload === 'string' ? ` ${JSON.stringify(payload)}` : `(base64) ${payload.base64}`} [${schema}]`;
  }
  return `${where} ${JSON.stringify(r.value, jsonValue)} [${schema}]`;
}
