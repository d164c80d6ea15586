// Idle MQTT connections for the memory benchmark: N raw TCP sockets, each one CONNECT (MQTT 3.1.1,
// clean session, keepalive 600 s) and then nothing. Opened a batch at a time so the server's accept
// queue is not overrun. Prints one JSON line `{"idleConnections": {"connected": N}}` once every
// CONNACK is in (or after --timeout), then holds them until SIGTERM/SIGINT.
//
// Each socket is a file descriptor: this process needs a soft `ulimit -n` above N (and so does the
// server). The benchmarks run with the soft limit the shell gives them; memory.ts checks it first.
//
//   node benchmarks/load/idle-connections.ts --broker HOST:PORT --connections N [--timeout MS]
import net from 'node:net';
import process from 'node:process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    broker: { type: 'string', default: '127.0.0.1:1883' },
    connections: { type: 'string', default: '10000' },
    timeout: { type: 'string', default: '120000' },
  },
});
const [host, portText] = values.broker.split(':') as [string, string];
const PORT = Number(portText);
const N = Number(values.connections);
const BATCH = 200;

function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  // Variable header: protocol name "MQTT", level 4, flags: clean session, keepalive 600 s.
  const body = Buffer.concat([
    Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0x02, 0x58]),
    Buffer.from([id.length >> 8, id.length & 0xff]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

const sockets: net.Socket[] = [];
let connected = 0;
let failed = 0;

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(PORT, host);
    sockets.push(socket);
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      if (ok) connected++;
      else failed++;
      resolve();
    };
    socket.on('connect', () => socket.write(connectPacket(`idle-${process.pid}-${i}`)));
    // CONNACK: 0x20 0x02 flags 0x00 (accepted).
    socket.once('data', (chunk: Buffer) => finish(chunk[0] === 0x20 && chunk[3] === 0));
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}

const deadline = Date.now() + Number(values.timeout);
for (let i = 0; i < N && Date.now() < deadline; i += BATCH) {
  const batch: Promise<void>[] = [];
  for (let j = i; j < Math.min(N, i + BATCH); j++) batch.push(open(j));
  await Promise.all(batch);
}
process.stdout.write(`${JSON.stringify({ idleConnections: { connected, failed } })}\n`);
const stop = () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
setInterval(() => {}, 60_000);
