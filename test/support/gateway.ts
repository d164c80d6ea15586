// Starting a real gateway in the test process: its real device front end on a real TCP port, real Kafka.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parse } from 'yaml';
import { parseConfig } from '../../gateway/config/load.ts';
import { type Gateway, startGateway } from '../../gateway/main.ts';
import { testKafkaBrokers } from '../helpers/kafka.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const examplePath = path.join(repoRoot, 'deploy/weir.example.yaml');

export interface TestTopics {
  readonly city: string;
  readonly factory: string;
  readonly vehicle: string;
  readonly deadLetter: string;
}

/** The sample config's routes, with topics unique to this test so runs never see each other. */
export function sampleConfig(overrides: Record<string, unknown> = {}) {
  const raw = parse(readFileSync(examplePath, 'utf8')) as {
    routes: Array<{ kafkaTopic: string }>;
    mqtt: object;
    kafka: object;
    spool?: object;
    http?: object;
  };
  const id = randomUUID().slice(0, 8);
  const topics: TestTopics = {
    city: `test.${id}.city`,
    factory: `test.${id}.factory`,
    vehicle: `test.${id}.vehicle`,
    deadLetter: `test.${id}.deadletter`,
  };
  raw.routes[0]!.kafkaTopic = topics.city;
  raw.routes[1]!.kafkaTopic = topics.factory;
  raw.routes[2]!.kafkaTopic = topics.vehicle;
  raw.mqtt = { ...raw.mqtt, host: '127.0.0.1', port: 0 };
  raw.kafka = { ...raw.kafka, brokers: testKafkaBrokers(), deadLetterTopic: topics.deadLetter };
  raw.spool = { ...raw.spool, dir: mkdtempSync(path.join(tmpdir(), 'weir-test-spool-')) };
  // A free port for /metrics and /status, so tests never collide with each other or a running weir.
  raw.http = { ...raw.http, host: '127.0.0.1', port: 0 };
  const loaded = parseConfig({ ...raw, ...overrides }, path.dirname(examplePath));
  return { loaded, topics };
}

export async function startTestGateway(
  t: TestContext,
  overrides: Record<string, unknown> = {},
): Promise<{ gateway: Gateway; topics: TestTopics; url: string }> {
  const { loaded, topics } = sampleConfig(overrides);
  const gateway = await startGateway(loaded, {
    log: pino({ level: process.env.WEIR_TEST_LOG ?? 'warn' }),
    backoff: { initialMs: 50, maxMs: 1000 },
  });
  t.after(() => gateway.stop());
  return { gateway, topics, url: `mqtt://127.0.0.1:${gateway.mqtt.port}` };
}
