// `weir registry start|status|stop` as users run it: a real Apicurio Registry in a temp state
// dir on a free loopback port, answering the Confluent API until stopped.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SchemaRegistryClient } from '../../gateway/registry/client.ts';
import { stopRegistry } from '../../tools/registry/local-registry.ts';
import { runWeir } from '../support/weir-cli.ts';

test('weir registry: start on a free port, status with RSS, a second start reuses it, stop ends it', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'weir-registry-cli-'));
  t.after(async () => {
    await stopRegistry({ dir, timeoutMs: 15_000 });
    await rm(dir, { recursive: true, force: true });
  });

  const idle = await runWeir(['registry', 'status', '--dir', dir]);
  assert.equal(idle.code, 3, idle.stderr);
  assert.match(idle.stdout, /not running/);

  const started = await runWeir(['registry', 'start', '--dir', dir, '--port', '0'], { timeoutMs: 180_000 });
  assert.equal(started.code, 0, started.stderr);
  const url = /at (http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7)/.exec(started.stdout)?.[1];
  assert.ok(url, started.stdout);

  // it answers the Confluent API, from a process other than the one that started it
  const client = new SchemaRegistryClient({ urls: [url], requestTimeoutMs: 5_000 });
  t.after(() => client.close());
  const id = await client.register('cli-check-value', { type: 'record', name: 'R', fields: [] });
  assert.ok(id > 0);

  const status = await runWeir(['registry', 'status', '--dir', dir]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(
    status.stdout,
    new RegExp(`running at ${url.replaceAll('.', '\\.')} \\(pid \\d+, RSS \\d+ MiB`),
  );

  const again = await runWeir(['registry', 'start', '--dir', dir]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already running/);
  assert.equal(await client.register('cli-check-value', { type: 'record', name: 'R', fields: [] }), id);

  const stopped = await runWeir(['registry', 'stop', '--dir', dir]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal((await runWeir(['registry', 'status', '--dir', dir])).code, 3);
  await assert.rejects(client.register('cli-check-value', { type: 'record', name: 'R', fields: [] }), {
    code: 'WEIR_REGISTRY_UNREACHABLE',
  });
});

test('weir registry start refuses a port in use, and bad usage exits 2', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'weir-registry-cli-'));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const port = (server.address() as { port: number }).port;
  const r = await runWeir(['registry', 'start', '--dir', dir, '--port', String(port)]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /WEIR_LOCAL_REGISTRY_PORT_IN_USE/);
  assert.equal((await runWeir(['registry'])).code, 2);
  assert.equal((await runWeir(['registry', 'frobnicate'])).code, 2);
  assert.equal((await runWeir(['registry', 'start', '--port', 'x'])).code, 2);
  const help = await runWeir(['registry', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /weir registry <start\|stop\|status\|fetch>/);
});
