// The device front end alone, for the ingest ceiling beside aedes-bare.ts: weir's own MQTT 3.1.1 +
// 5 front end (gateway/source/front-end/) on TCP with the same socket settings, with an intake that
// settles at once (the PUBACK goes out immediately) and nothing behind it. Prints one JSON line
// `{"benchReady": {...}}` when it listens; stops on SIGTERM.
//
//   node benchmarks/servers/front-end-bare.ts [--port P]
import { once } from 'node:events';
import net from 'node:net';
import process from 'node:process';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createFrontEnd } from '../../gateway/source/front-end/front-end.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
let published = 0;
const frontEnd = createFrontEnd({
  intake: {
    accept: (_msg, settle) => {
      published++;
      settle(null);
    },
  },
  log: pino({ level: 'warn' }),
  maxPacketBytes: 256 * 1024,
  connectTimeoutMs: 30_000,
});
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  frontEnd.accept(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress ?? '', certificate: null });
});
server.listen(Number(values.port), '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as net.AddressInfo;
process.stdout.write(`${JSON.stringify({ benchReady: { mqttPort: port, pid: process.pid } })}\n`);
process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ benchStopped: { published } })}\n`);
  server.close();
  void frontEnd.close().then(() => process.exit(0));
});
