// aedes alone, for the ingest ceiling: the same aedes 1.x weir embeds, on TCP with the same socket
// settings, with a publish handler that calls back at once (the PUBACK goes out immediately) and
// nothing behind it. Prints one JSON line `{"benchReady": {...}}` when it listens; stops on SIGTERM.
//
//   node benchmarks/servers/aedes-bare.ts [--port P]
import { once } from 'node:events';
import net from 'node:net';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { Aedes } from 'aedes';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
let published = 0;
const broker = await Aedes.createBroker({
  authorizePublish: (_client, _packet, callback) => {
    published++;
    callback(null);
  },
});
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  broker.handle(socket);
});
server.listen(Number(values.port), '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as net.AddressInfo;
process.stdout.write(`${JSON.stringify({ benchReady: { mqttPort: port, pid: process.pid } })}\n`);
process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ benchStopped: { published } })}\n`);
  server.close();
  broker.close(() => process.exit(0));
});
