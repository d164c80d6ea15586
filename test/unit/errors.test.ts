// describeConnectionError: one readable sentence for a connection that failed, found inside the
// wrappers Kafka clients put around it — with real socket errors from a port nothing listens on.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { describeConnectionError } from '../../gateway/errors.ts';

async function refused(): Promise<Error> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  const socket = net.connect(port, '127.0.0.1');
  const [err] = (await once(socket, 'error').catch((e: unknown) => [e])) as [Error];
  return err;
}

test('a refused connection names the service and its address, however deeply wrapped', async () => {
  const err = await refused();
  const { port } = err as unknown as { port: number };
  const wrapped = new Error('Connection failed', {
    cause: new AggregateError([new Error('network', { cause: err })], 'aggregateErrors'),
  });
  assert.equal(
    describeConnectionError(wrapped, 'Kafka'),
    `Kafka at 127.0.0.1:${port} refused the connection (nothing listens there)`,
  );
});

test('several brokers with the same problem are listed together', async () => {
  const [a, b] = [await refused(), await refused()];
  const addr = (e: Error) => `127.0.0.1:${(e as unknown as { port: number }).port}`;
  assert.equal(
    describeConnectionError(new AggregateError([a, b]), 'Kafka'),
    `Kafka at ${addr(a)}, ${addr(b)} refused the connection (nothing listens there)`,
  );
});

test('an error without a socket error falls back to the innermost message', () => {
  const err = new Error('outer', { cause: new Error('broker said no') });
  assert.equal(describeConnectionError(err, 'Kafka'), 'Kafka: broker said no');
});
