// Helpers of the security tests: users files, raw CONNECTs (mqtt-packet on a socket, from a
// chosen local address), and mqtt.js logins that report the CONNACK return code.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { formatHash, hashPassword } from '../../gateway/auth/users-file.ts';

/** Cheap scrypt parameters for tests (the gateway uses what each line says). */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };

export async function writeUsersFile(dir: string, users: Record<string, string>): Promise<string> {
  const lines = await Promise.all(
    Object.entries(users).map(async ([id, pw]) => `${id}:${formatHash(await hashPassword(pw, TEST_SCRYPT))}`),
  );
  const file = path.join(dir, 'users');
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

/** Connects with mqtt.js; resolves with the client, or the CONNACK return code of a refusal. */
export async function login(
  url: string,
  opts: IClientOptions,
): Promise<{ client: MqttClient; code: 0 } | { client: null; code: number | string }> {
  try {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...opts });
    return { client, code: 0 };
  } catch (err) {
    const code = (err as { code?: number | string }).code;
    return { client: null, code: code ?? (err as Error).message };
  }
}

/** Sends one CONNECT on a raw socket; resolves with the CONNACK return code and how long it took. */
export async function rawConnect(opts: {
  port: number;
  localAddress?: string;
  clientId: string;
  clean: boolean;
  username?: string;
  password?: string;
}): Promise<{ returnCode: number | null; ms: number }> {
  const socket = net.connect({ host: '127.0.0.1', port: opts.port, localAddress: opts.localAddress });
  await once(socket, 'connect');
  const started = Date.now();
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const connack = new Promise<number | null>((resolve) => {
    parser.on('packet', (p: { cmd: string; returnCode?: number }) => {
      if (p.cmd === 'connack') resolve(p.returnCode ?? null);
    });
    socket.on('close', () => resolve(null));
    socket.on('error', () => resolve(null));
  });
  socket.on('data', (d) => parser.parse(d));
  socket.write(connectPacket(opts));
  const timer = setTimeout(() => socket.destroy(), 20_000);
  const returnCode = await connack;
  clearTimeout(timer);
  const ms = Date.now() - started;
  socket.destroy();
  return { returnCode, ms };
}

/** Resolves when the client's connection closes (or rejects after `ms`). */
export function closed(client: MqttClient, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!client.connected) return resolve();
    const timer = setTimeout(() => reject(new Error('connection stayed open')), ms);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * An MQTT 3.1.1 CONNECT, written by hand: mqtt-packet refuses to generate some that devices do
 * send (a zero-length client id with clean = false).
 */
function connectPacket(o: {
  clientId: string;
  clean: boolean;
  username?: string;
  password?: string;
}): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
  };
  const flags =
    (o.username !== undefined ? 0x80 : 0) | (o.password !== undefined ? 0x40 : 0) | (o.clean ? 0x02 : 0);
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, flags, 0, 30]),
    str(o.clientId),
    ...(o.username !== undefined ? [str(o.username)] : []),
    ...(o.password !== undefined ? [str(o.password)] : []),
  ]);
  if (body.length > 127) throw new Error('test CONNECT too long');
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}
