// `weir start` as a real child process: config errors, and a clean stop on SIGTERM that flushes
// what is batched to Kafka.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { consumeAll, testKafkaBrokers } from '../helpers/kafka.ts';
import { connectDevice, readingFor, topicFor } from '../support/devices.ts';
import { examplePath, repoRoot } from '../support/gateway.ts';

const weir = path.join(repoRoot, 'bin/weir.ts');

function run(args: string[], env: Record<string, string> = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [weir, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return Object.assign(child, { output: () => out });
}

/**
 * Waits for the gateway's MQTT listener; fails with `why` and the output so far if it exits first
 * or takes over 60 s (a start takes about a second, many more on a machine busy with other tests).
 */
async function listening(child: ChildProcess & { output: () => string }, why: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!child.output().includes('MQTT listener ready')) {
    assert.ok(Date.now() < deadline && child.exitCode === null, `${why}:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function exitCode(child: ChildProcess): Promise<number | null> {
  const [code] = await once(child, 'exit');
  return code as number | null;
}

/** `weir start` with the flags the tests set; `kafka` overrides the config's brokers. */
function startArgs(o: {
  config: string;
  mqttPort: number;
  spoolDir: string;
  httpPort?: number;
  kafka?: boolean;
}): string[] {
  const args = ['start', '--config', o.config, '--mqtt-port', String(o.mqttPort), '--spool-dir', o.spoolDir];
  if (o.kafka) args.push('--kafka-brokers', testKafkaBrokers().join(','));
  return args.concat('--http-port', String(o.httpPort ?? 0));
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('weir start', () => {
  test('an invalid config lists every problem and exits 2', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-cli-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'mqtt: {port: -1}',
        'auth: none',
        'kafka: {brokers: []}',
        'routes:',
        '  - {name: x, mqttTopic: "a/{id}", kafkaTopic: t, schema: none.avsc}',
      ].join('\n'),
    );
    const child = run(['start', '--config', file]);
    assert.equal(await exitCode(child), 2);
    const out = child.output();
    assert.match(out, /invalid config .*\(3 problems\)/);
    assert.match(out, /mqtt\.port:/);
    assert.match(out, /kafka\.brokers:/);
    assert.match(out, /routes\[0\]\.schema: file not found/);
  });

  test('weir --version prints the version; the help lists every command and kafka subcommand', async () => {
    const version = run(['--version']);
    assert.equal(await exitCode(version), 0);
    const { version: expected } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      version: string;
    };
    assert.match(version.output(), new RegExp(`^weir ${expected.replaceAll('.', '\\.')} \\(Node\\.js `));
    const help = run(['--help']);
    assert.equal(await exitCode(help), 0);
    for (const word of [
      'start',
      'config',
      'sim',
      'verify',
      'demo',
      'passwd',
      'spool',
      'kafka',
      'fetch',
      'install-rdkafka',
    ])
      assert.match(help.output(), new RegExp(`\\b${word}\\b`), word);
  });

  test('usage errors exit 2', async () => {
    assert.equal(await exitCode(run(['start'])), 2);
    assert.equal(await exitCode(run(['start', '--config', examplePath, '--no-such-flag'])), 2);
    assert.equal(await exitCode(run(['no-such-command'])), 2);
  });

  test('flags override the config file; SIGTERM flushes the batch and exits 0', async (t) => {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-cli-'));
    // A long linger: the records are still batched when SIGTERM arrives, so only the drain sends them.
    const config = path.join(dir, 'weir.yaml');
    const topic = `test.cli.${Date.now()}`;
    writeFileSync(
      config,
      [
        'kafka: {brokers: ["127.0.0.1:1"], deadLetterTopic: test.cli.deadletter}',
        'auth: none',
        'batch: {lingerMs: 60000}',
        'routes:',
        `  - {name: vehicles, mqttTopic: "fleet/{fleetId}/vehicles/{vehicleId}/position", kafkaTopic: ${topic}, schema: ${path.join(repoRoot, 'schemas/vehicle-gps.avsc')}}`,
      ].join('\n'),
    );
    const child = run(startArgs({ config, mqttPort: port, spoolDir: dir, kafka: true }));
    t.after(() => child.kill('SIGKILL'));
    // Wait for the listener.
    await listening(child, 'gateway did not start');
    const device = await connectDevice(`mqtt://127.0.0.1:${port}`, 'bus-1');
    const deviceTopic = topicFor('vehicle', 'bus-1');
    for (let seq = 1; seq <= 10; seq++)
      device.publish(deviceTopic, JSON.stringify(readingFor('vehicle', seq, Date.now())), { qos: 0 });
    await device.endAsync(); // flushes the QoS 0 publishes to the socket
    await new Promise((r) => setTimeout(r, 300));

    child.kill('SIGTERM');
    assert.equal(await exitCode(child), 0, child.output());
    assert.match(child.output(), /"drained":true/);

    const got = await consumeAll({ topics: [topic], expected: 10, timeoutMs: 30_000 });
    const type = loadSchema(path.join(repoRoot, 'schemas/vehicle-gps.avsc')).type;
    assert.deepEqual(
      got.map((m) => (type.fromBuffer(m.value!) as { seq: number }).seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
  });

  test('a second gateway on the same spool exits 2 naming the directory and the holder; after kill -9 the spool opens again; a fresh spool reports no problem', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-cli-'));
    const spoolDir = path.join(dir, 'fresh', 'spool'); // does not exist yet
    const config = path.join(dir, 'weir.yaml');
    writeFileSync(
      config,
      [
        `kafka: {brokers: [${testKafkaBrokers().join(',')}], deadLetterTopic: test.lock.deadletter}`,
        'auth: none',
        'routes:',
        `  - {name: vehicles, mqttTopic: "fleet/{fleetId}/vehicles/{vehicleId}/position", kafkaTopic: test.lock.${Date.now()}, schema: ${path.join(repoRoot, 'schemas/vehicle-gps.avsc')}}`,
      ].join('\n'),
    );
    const start = async (httpPort: number) =>
      run(startArgs({ config, mqttPort: await freePort(), spoolDir, httpPort }));
    const httpPort = await freePort();
    const first = await start(httpPort);
    t.after(() => first.kill('SIGKILL'));
    await listening(first, 'gateway did not start');
    // The first /status after start tells the truth about a spool directory it just made.
    const status = (await (await fetch(`http://127.0.0.1:${httpPort}/status`)).json()) as {
      conditions: Array<{ code: string }>;
    };
    assert.ok(
      !status.conditions.some((c) => c.code === 'spool_not_writable'),
      JSON.stringify(status.conditions),
    );

    const second = await start(await freePort());
    assert.equal(await exitCode(second), 2, second.output());
    const said = second.output().trim();
    assert.ok(said.includes(spoolDir) && said.includes(`pid ${first.pid}`), said);
    assert.equal(said.split('\n').filter((l) => l.startsWith('weir start:')).length, 1, said);
    assert.doesNotMatch(said, /^\s+at /m, 'no stack');

    first.kill('SIGKILL');
    await exitCode(first);
    const third = await start(await freePort());
    t.after(() => third.kill('SIGKILL'));
    await listening(third, 'gateway did not start after kill -9');
    third.kill('SIGTERM');
    assert.equal(await exitCode(third), 0, third.output());
  });

  test('a port in use: one sentence naming the setting and the flag, exit 2, no stack, no Kafka warning', async (t) => {
    const taken = net.createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    t.after(() => taken.close());
    const { port } = taken.address() as net.AddressInfo;
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-cli-'));
    const child = run(startArgs({ config: examplePath, mqttPort: port, spoolDir: dir, kafka: true }));
    t.after(() => child.kill('SIGKILL'));
    assert.equal(await exitCode(child), 2, child.output());
    const out = child.output();
    const stderr = out.split('\n').filter((l) => l.startsWith('weir start:'));
    assert.equal(stderr.length, 1, out);
    assert.match(stderr[0]!, new RegExp(`:${port}: the port is in use`));
    assert.match(stderr[0]!, /mqtt\.port in the config or --mqtt-port/);
    assert.doesNotMatch(out, /\n\s+at /, 'no stack trace');
    assert.doesNotMatch(out, /Kafka not reachable/);
    assert.doesNotMatch(out, /"level":60/, 'no JSON fatal line');
  });

  test('--log-level debug adds the error with its stack', async (t) => {
    const taken = net.createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    t.after(() => taken.close());
    const { port } = taken.address() as net.AddressInfo;
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-cli-'));
    const child = run([
      ...startArgs({ config: examplePath, mqttPort: 0, spoolDir: dir, httpPort: port, kafka: true }),
      '--log-level',
      'debug',
    ]);
    t.after(() => child.kill('SIGKILL'));
    assert.equal(await exitCode(child), 2, child.output());
    assert.match(
      child.output(),
      /weir start: cannot listen for metrics and the status page .*http\.port in the config or --http-port/,
    );
    assert.match(child.output(), /EADDRINUSE/);
    assert.match(child.output(), /"stack":/);
  });
});
