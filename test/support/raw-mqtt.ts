// A bare MQTT connection for tests that need to send what no client library would: a raw TCP
// socket, packets built with mqtt-packet, and what the gateway sends back parsed and kept.
import { once } from 'node:events';
import net from 'node:net';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';

export class RawConnection {
  readonly socket: net.Socket;
  readonly received: Packet[] = [];
  /** Resolves when the gateway (or the test) has closed the connection. */
  readonly closed: Promise<void>;
  closedAt: number | null = null;

  constructor(socket: net.Socket) {
    this.socket = socket;
    const parser = mqttPacket.parser();
    parser.on('packet', (p) => this.received.push(p));
    parser.on('error', () => {});
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = net.connect(port, '127.0.0.1');
    const conn = new RawConnection(socket);
    await once(socket, 'connect');
    return conn;
  }

  get isClosed(): boolean {
    return this.closedAt !== null;
  }

  send(packet: Packet | Buffer): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(Buffer.isBuffer(packet) ? packet : mqttPacket.generate(packet));
  }

  /** Sends CONNECT (MQTT 3.1.1, clean session) with `overrides`. */
  connect(clientId: string, overrides: Partial<IConnectPacket> = {}): void {
    this.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId,
      keepalive: 60,
      ...overrides,
    });
  }

  /** Resolves with the first received packet of `cmd`, or null after `timeoutMs` / on close. */
  async waitFor(cmd: Packet['cmd'], timeoutMs = 5000): Promise<Packet | null> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const p = this.received.find((r) => r.cmd === cmd);
      if (p !== undefined) return p;
      if (this.isClosed || Date.now() > until) return null;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Resolves true when the connection closes within `timeoutMs`. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => {
      timer = setTimeout(() => r(false), timeoutMs);
    });
    const result = await Promise.race([this.closed.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
