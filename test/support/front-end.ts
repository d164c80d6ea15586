// The device front end under test, served on real listeners (TCP and WebSocket, through
// gateway/source/listeners.ts as the gateway will), with a small intake that records every message
// and settles as the test scripts it; plus a raw MQTT connection of either version for what no
// client library sends.
import { once } from 'node:events';
import net from 'node:net';
import process from 'node:process';
import type { TestContext } from 'node:test';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import pino from 'pino';
import type { Settle } from '../../gateway/contracts.ts';
import { createFrontEnd, type FrontEnd } from '../../gateway/source/front-end/front-end.ts';
import type { DeviceIntake, DeviceMessage, FrontEndOptions } from '../../gateway/source/front-end/types.ts';
import { startListeners } from '../../gateway/source/listeners.ts';

/**
 * Records messages. `mode`: settle at once ('settle'), keep the settle for the test ('hold'), or
 * settle with an error.
 */
export class TestIntake implements DeviceIntake {
  readonly messages: DeviceMessage[] = [];
  readonly held: Settle[] = [];
  mode: 'settle' | 'hold' | Error = 'settle';

  accept(msg: DeviceMessage, settle: Settle): void {
    this.messages.push(msg);
    if (this.mode === 'settle') settle(null);
    else if (this.mode === 'hold') this.held.push(settle);
    else settle(this.mode);
  }

  /** Settles every held message (with `err`, or without). */
  release(err: Error | null = null): void {
    for (const settle of this.held.splice(0)) settle(err);
  }
}

export interface ServedFrontEnd {
  readonly frontEnd: FrontEnd;
  readonly intake: TestIntake;
  readonly port: number;
  readonly wsPort: number;
}

export async function serveFrontEnd(
  t: TestContext,
  options: Partial<FrontEndOptions> = {},
): Promise<ServedFrontEnd> {
  const intake = new TestIntake();
  const log = pino({ level: process.env['WEIR_TEST_LOG'] ?? 'warn' });
  const frontEnd = createFrontEnd({
    intake,
    log,
    maxPacketBytes: 64 * 1024,
    connectTimeoutMs: 5000,
    ...options,
  });
  const listeners = await startListeners(
    [
      { transport: 'tcp', host: '127.0.0.1', port: 0 },
      { transport: 'websocket', host: '127.0.0.1', port: 0, path: '/mqtt', maxMessageBytes: 1024 * 1024 },
    ],
    (stream, info) => frontEnd.accept(stream, info),
    log,
  );
  t.after(async () => {
    await frontEnd.close();
    await Promise.all(listeners.map((l) => l.close()));
  });
  return { frontEnd, intake, port: listeners[0]!.address.port, wsPort: listeners[1]!.address.port };
}

/** A bare MQTT connection of either version: packets built and parsed with mqtt-packet. */
export class RawClient {
  readonly socket: net.Socket;
  readonly received: Packet[] = [];
  readonly version: 4 | 5;
  readonly closed: Promise<void>;
  #closed = false;

  constructor(socket: net.Socket, version: 4 | 5) {
    this.socket = socket;
    this.version = version;
    const parser = mqttPacket.parser({ protocolVersion: version });
    parser.on('packet', (p: Packet) => this.received.push(p));
    parser.on('error', () => {});
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#closed = true;
        resolve();
      }),
    );
  }

  static async open(t: TestContext, port: number, version: 4 | 5): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    t.after(() => socket.destroy());
    await once(socket, 'connect');
    return new RawClient(socket, version);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  send(...packets: Array<Packet | Buffer>): void {
    const bytes = packets.map((p) =>
      Buffer.isBuffer(p) ? p : mqttPacket.generate(p, { protocolVersion: this.version }),
    );
    this.socket.write(Buffer.concat(bytes));
  }

  /** Sends CONNECT and waits for CONNACK. */
  async connect(clientId: string, overrides: Partial<IConnectPacket> = {}): Promise<Packet> {
    this.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: this.version,
      clean: true,
      clientId,
      keepalive: 60,
      ...overrides,
    });
    return this.next('connack');
  }

  /** Takes the first received packet of `cmd` (waiting for it); throws after `timeoutMs`. */
  async next(cmd: Packet['cmd'], timeoutMs = 5000): Promise<Packet> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = this.received.findIndex((r) => r.cmd === cmd);
      if (i >= 0) return this.received.splice(i, 1)[0]!;
      if (Date.now() > until) throw new Error(`no ${cmd} within ${timeoutMs} ms`);
      if (this.#closed) throw new Error(`closed before ${cmd}`);
      await sleep(10);
    }
  }

  /** Every received packet of `cmd` so far, taken. */
  take(cmd: Packet['cmd']): Packet[] {
    const out = this.received.filter((r) => r.cmd === cmd);
    for (const p of out) this.received.splice(this.received.indexOf(p), 1);
    return out;
  }

  /** Resolves true when the connection closes within `timeoutMs`. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), sleep(timeoutMs).then(() => false)]);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds (polling); throws with `what` after `timeoutMs`. */
export async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
