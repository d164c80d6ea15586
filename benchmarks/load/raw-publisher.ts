// A lean MQTT publisher for benchmarks, where mqtt.js itself would be the bottleneck: N raw TCP
// connections, each one CONNECT and then pre-encoded PUBLISH packets (one template per device,
// patched in place: packet id, seq, ts), QoS 1 with a window of unacknowledged messages per
// connection (PUBACKs counted), or QoS 0 held back only by the socket's write buffer.
// Payloads are factory-line telemetry (valid JSON of schemas/factory-line.avsc) with the device's
// own seq from 1 and its send time in `ts`, so `weir verify` (or the benchmarks' same check) can
// find every acknowledged message in Kafka and measure publish → Kafka latency.
//
// Writes a `weir sim`-format report (per device: sent, acknowledged seq ranges) and prints one
// JSON summary line on stdout at the end.
//
//   node benchmarks/load/raw-publisher.ts --broker HOST:PORT [--connections N] [--window K]
//     [--rate MSG_PER_S (0: as fast as the windows allow)] [--duration MS (0: until SIGINT)]
//     [--qos 0|1] [--id-prefix P] [--report FILE] [--drain-timeout MS]
import net from 'node:net';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { DEFAULT_CENTER } from '../../device-sim/options.ts';
import {
  type DeviceReport,
  REPORT_FORMAT,
  type SimReport,
  totalsOf,
  writeReport,
} from '../../device-sim/report.ts';
import { SeqSet } from '../../device-sim/seq-ranges.ts';

const { values } = parseArgs({
  options: {
    broker: { type: 'string', default: '127.0.0.1:1883' },
    connections: { type: 'string', default: '20' },
    window: { type: 'string', default: '200' },
    rate: { type: 'string', default: '0' },
    duration: { type: 'string', default: '10000' },
    qos: { type: 'string', default: '1' },
    'id-prefix': { type: 'string', default: `raw${process.pid.toString(16)}` },
    report: { type: 'string' },
    'drain-timeout': { type: 'string', default: '15000' },
  },
});

const [host, portText] = values.broker.split(':');
const PORT = Number(portText);
const CONNECTIONS = Number(values.connections);
const WINDOW = Number(values.window);
const RATE = Number(values.rate);
const DURATION_MS = Number(values.duration);
const QOS = values.qos === '0' ? 0 : 1;
const PREFIX = values['id-prefix'];
const DRAIN_MS = Number(values['drain-timeout']);
const SEQ_WIDTH = 10;
const problems = [
  !(PORT > 0 && PORT < 65536) && `--broker must be HOST:PORT, not '${values.broker}'`,
  !(CONNECTIONS >= 1) && '--connections must be at least 1',
  !(WINDOW >= 1 && WINDOW <= 65_000) && '--window must be between 1 and 65000 (MQTT packet ids)',
  !(RATE >= 0) && '--rate must be 0 (as fast as possible) or more',
  !(DURATION_MS >= 0) && '--duration must be 0 (until SIGINT) or more',
].filter((p) => p !== false);
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`raw-publisher: ${p}\n`);
  process.exit(2);
}
/** In paced mode, at most this much unsent budget carries over (a slow broker is not burst at). */
const MAX_CARRY_MS = 50;
/** QoS 0: stop writing while this much is queued in the socket. */
const QOS0_HIGH_WATER = 256 * 1024;

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  // protocol name MQTT, level 4 (3.1.1), flags: clean session, keepalive 0
  const body = Buffer.concat([
    Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0, id.length >> 8, id.length & 0xff]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, ...varint(body.length)]), body]);
}

interface Template {
  readonly packet: Buffer;
  readonly idAt: number;
  readonly seqAt: number;
  readonly tsAt: number;
}

function publishTemplate(topic: string, index: number): Template {
  const t = Buffer.from(topic);
  const rpm = 1200 + ((index * 37) % 600);
  const payload = Buffer.from(
    `{"seq":${' '.repeat(SEQ_WIDTH)},"ts":${'0'.repeat(13)},"state":"running","spindleSpeedRpm":${rpm},` +
      `"vibrationRmsMmS":${(1.5 + (index % 10) / 10).toFixed(1)},"temperatureC":${40 + (index % 20) / 4},` +
      `"partCount":${1000 + index},"faultCode":null,"spindleLoadPct":${50 + (index % 40)},"powerKw":${(7.5 + (index % 5)).toFixed(1)}}`,
  );
  const idBytes = QOS === 1 ? 2 : 0;
  const remaining = 2 + t.length + idBytes + payload.length;
  const head = Buffer.from([QOS === 1 ? 0x32 : 0x30, ...varint(remaining), t.length >> 8, t.length & 0xff]);
  const packet = Buffer.concat([head, t, Buffer.alloc(idBytes), payload]);
  const payloadAt = head.length + t.length + idBytes;
  return {
    packet,
    idAt: head.length + t.length,
    seqAt: payloadAt + payload.indexOf(':') + 1,
    tsAt: payloadAt + payload.indexOf('"ts":') + 5,
  };
}

class Connection {
  readonly index: number;
  readonly deviceId: string;
  readonly topic: string;
  readonly template: Template;
  readonly socket: net.Socket;
  readonly acked = new SeqSet();
  /** seq of the message in flight under each packet id (0: free). */
  readonly #idToSeq = new Float64Array(65536);
  #nextId = 1;
  #pending: Buffer | null = null;
  connected = false;
  closed = false;
  inflight = 0;
  sent = 0;
  ackedCount = 0;
  lastAckAt = 0;
  lastError: string | null = null;
  onAcks: (() => void) | null = null;

  constructor(index: number) {
    this.index = index;
    this.deviceId = `${PREFIX}-mach-${String(index + 1).padStart(4, '0')}`;
    this.topic = `factory/plant-1/line-${index % 4}/${this.deviceId}/telemetry`;
    this.template = publishTemplate(this.topic, index);
    this.socket = net.connect(PORT, host);
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => this.socket.write(connectPacket(this.deviceId)));
    this.socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.socket.on('error', (err) => {
      this.lastError = err.message;
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.connected = false;
    });
  }

  /** How many more this connection may send now. */
  room(): number {
    if (!this.connected) return 0;
    if (QOS === 1) return WINDOW - this.inflight;
    return this.socket.writableLength > QOS0_HIGH_WATER ? 0 : WINDOW;
  }

  /** Sends `n` messages in one write. */
  send(n: number): void {
    const { packet, idAt, seqAt, tsAt } = this.template;
    const size = packet.length;
    const out = Buffer.allocUnsafe(size * n);
    const ts = String(Date.now());
    for (let i = 0; i < n; i++) {
      const at = i * size;
      packet.copy(out, at);
      const seq = this.sent + 1 + i;
      const s = String(seq);
      out.write(s, at + seqAt + SEQ_WIDTH - s.length, 'latin1');
      out.write(ts, at + tsAt, 'latin1');
      if (QOS === 1) {
        let id = this.#nextId;
        while (this.#idToSeq[id] !== 0) id = id === 65535 ? 1 : id + 1;
        this.#nextId = id === 65535 ? 1 : id + 1;
        this.#idToSeq[id] = seq;
        out[at + idAt] = id >> 8;
        out[at + idAt + 1] = id & 0xff;
      }
    }
    this.sent += n;
    if (QOS === 1) this.inflight += n;
    this.socket.write(out);
  }

  disconnect(): void {
    if (this.closed) return;
    this.socket.end(Buffer.from([0xe0, 0]));
  }

  #onData(chunk: Buffer): void {
    let buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    let at = 0;
    let acks = 0;
    while (at + 2 <= buf.length) {
      const type = buf[at]! >> 4;
      let len = 0;
      let mul = 1;
      let p = at + 1;
      let complete = false;
      while (p < buf.length) {
        const b = buf[p++]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || p + len > buf.length) break;
      if (type === 4 && len >= 2) {
        const id = (buf[p]! << 8) | buf[p + 1]!;
        const seq = this.#idToSeq[id]!;
        if (seq !== 0) {
          this.#idToSeq[id] = 0;
          this.acked.add(seq);
          this.inflight--;
          this.ackedCount++;
          acks++;
        }
      } else if (type === 2) {
        if (buf[p + 1] !== 0) this.lastError = `CONNACK return code ${buf[p + 1]}`;
        else this.connected = true;
      }
      at = p + len;
    }
    if (acks > 0) {
      this.lastAckAt = Date.now();
      this.onAcks?.();
    }
    buf = buf.subarray(at);
    this.#pending = buf.length > 0 ? Buffer.from(buf) : null;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const conns = Array.from({ length: CONNECTIONS }, (_, i) => new Connection(i));
const connectDeadline = Date.now() + 15_000;
while (conns.some((c) => !c.connected && !c.closed) && Date.now() < connectDeadline) await sleep(5);
if (!conns.some((c) => c.connected)) {
  process.stderr.write(`raw-publisher: no connection to ${values.broker}: ${conns[0]?.lastError}\n`);
  process.exit(1);
}

let stopping = false;
process.once('SIGINT', () => {
  stopping = true;
});
process.once('SIGTERM', () => {
  stopping = true;
});

const startedAtMs = Date.now();
const started = performance.now();
const endAt = DURATION_MS > 0 ? started + DURATION_MS : Number.POSITIVE_INFINITY;
let budgetSent = 0;
let skipped = 0;
const perSecond: number[] = [];
let lastAckTotal = 0;
const secondTimer = setInterval(() => {
  const total = conns.reduce((s, c) => s + (QOS === 1 ? c.ackedCount : c.sent), 0);
  perSecond.push(total - lastAckTotal);
  lastAckTotal = total;
}, 1000);

if (RATE <= 0) {
  // Closed loop: acknowledgements free room, which is refilled once per turn of the event loop
  // (all PUBACKs read in one I/O phase become one write).
  for (const c of conns) {
    let scheduled = false;
    const refill = () => {
      scheduled = false;
      if (stopping || performance.now() >= endAt) return;
      const n = c.room();
      if (n > 0) c.send(n);
    };
    c.onAcks = () => {
      if (!scheduled) {
        scheduled = true;
        setImmediate(refill);
      }
    };
  }
}

let rr = 0;
while (!stopping && performance.now() < endAt) {
  if (RATE > 0) {
    const elapsed = performance.now() - started;
    let due = Math.floor((RATE * elapsed) / 1000) - budgetSent;
    const carry = Math.ceil((RATE * MAX_CARRY_MS) / 1000);
    if (due > carry) {
      skipped += due - carry;
      budgetSent += due - carry;
      due = carry;
    }
    // Spread the due messages over the connections, round robin, as far as their windows allow.
    let left = due;
    let idle = 0;
    const share = Math.max(1, Math.ceil(due / CONNECTIONS));
    while (left > 0 && idle < CONNECTIONS) {
      const c = conns[rr]!;
      rr = (rr + 1) % CONNECTIONS;
      const n = Math.min(share, left, c.room());
      if (n > 0) {
        c.send(n);
        left -= n;
        idle = 0;
      } else idle++;
    }
    budgetSent += due - left;
    await sleep(1);
  } else {
    // QoS 0 is refilled here; QoS 1 only gets going here (and restarted, should it ever stall).
    for (const c of conns) {
      const n = c.room();
      if (n > 0 && (QOS === 0 || c.inflight === 0)) c.send(n);
    }
    await sleep(QOS === 0 ? 0 : 5);
  }
}
const sendEndedAtMs = Date.now();
const sendSeconds = (performance.now() - started) / 1000;

const drainUntil = Date.now() + DRAIN_MS;
while (QOS === 1 && conns.some((c) => c.inflight > 0 && !c.closed) && Date.now() < drainUntil)
  await sleep(10);
clearInterval(secondTimer);
for (const c of conns) c.disconnect();
await sleep(100);
for (const c of conns) c.socket.destroy();

const devices: DeviceReport[] = conns.map((c) => ({
  index: c.index,
  fleet: 'factory-line',
  clientId: c.deviceId,
  deviceId: c.deviceId,
  topic: c.topic,
  sent: c.sent,
  acked: QOS === 1 ? c.acked.ranges().map(([a, b]) => [a, b] as [number, number]) : [],
  invalid: { sent: 0, acked: 0 },
  oversize: 0,
  skipped: 0,
  connects: 1,
  drops: c.lastError === null ? 0 : 1,
  disconnects: 1,
  republished: 0,
  firstConnectedAt: startedAtMs,
  lastError: c.lastError,
}));
const endedAtMs = Date.now();
const report: SimReport = {
  format: REPORT_FORMAT,
  runId: PREFIX,
  // Not the simulator's fleet models: values cannot be regenerated (verify with --no-values).
  generatorVersion: 0,
  startedAt: new Date(startedAtMs).toISOString(),
  endedAt: new Date(endedAtMs).toISOString(),
  startedAtMs,
  endedAtMs,
  interrupted: false,
  config: {
    broker: `mqtt://${values.broker}`,
    username: null,
    mix: { 'factory-line': 1 },
    devices: CONNECTIONS,
    rates: {
      'smart-city': 1,
      'factory-line': RATE > 0 ? RATE / CONNECTIONS : 1,
      'vehicle-gps': 1,
    },
    durationMs: DURATION_MS > 0 ? DURATION_MS : null,
    count: null,
    qos: QOS,
    rampUpMs: 0,
    connectConcurrency: CONNECTIONS,
    churnPerMin: 0,
    churnDowntimeMs: 0,
    invalidRatio: 0,
    oversizeRatio: 0,
    oversizeBytes: 0,
    maxInflight: WINDOW,
    seed: 0,
    modelStartMs: startedAtMs,
    timeWarp: 1,
    center: DEFAULT_CENTER,
    idPrefix: PREFIX,
  },
  totals: totalsOf(devices),
  devices,
};
if (values.report !== undefined) await writeReport(values.report, report);

const sent = conns.reduce((s, c) => s + c.sent, 0);
const acked = conns.reduce((s, c) => s + c.ackedCount, 0);
const lastAckAt = Math.max(...conns.map((c) => c.lastAckAt));
const ackSeconds = QOS === 1 && lastAckAt > 0 ? (lastAckAt - startedAtMs) / 1000 : sendSeconds;
const summary = {
  qos: QOS,
  connections: CONNECTIONS,
  connected: conns.filter((c) => c.lastError === null).length,
  window: WINDOW,
  rate: RATE,
  startedAtMs,
  sendEndedAtMs,
  sendSeconds: Number(sendSeconds.toFixed(3)),
  sent,
  acked,
  unacked: QOS === 1 ? sent - acked : 0,
  skipped,
  sentPerSec: Math.round(sent / sendSeconds),
  ackedPerSec: QOS === 1 ? Math.round(acked / ackSeconds) : 0,
  perSecond,
  errors: [...new Set(conns.map((c) => c.lastError).filter((e) => e !== null))],
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(0);
