// Loopback ports for tests that run side by side with other tests, from below the kernel's
// ephemeral range (see freePort).
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** The lowest port the kernel hands out for bind(0) and outgoing connections (Linux). */
function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    return Number(low) || 32_768;
  } catch {
    return 32_768;
  }
}

async function canListen(port: number): Promise<boolean> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port, exclusive: true }, resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * A port that was free on 127.0.0.1 a moment ago, from 10000 up to the kernel's ephemeral range.
 * Tests keep such a port while nothing listens on it — a broker that starts only when "Kafka
 * returns", a killed broker or gateway restarted on its port, an address that must refuse. A port
 * from bind(0) lies in the ephemeral range, where any outgoing connection of a test running
 * meanwhile (sim-10k alone opens 10,000) may take it, or a client reconnecting to it may connect
 * to itself; below that range only another test's pick can, and it would find the port taken.
 */
export async function freePort(): Promise<number> {
  const low = 10_000;
  const high = ephemeralLow();
  if (high - low < 1_000) {
    const server = net.createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between ${low} and ${high} after 100 tries`);
}

/** `count` distinct ports, as freePort() picks them. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** A free port whose next one is free too: a local Kafka takes port + 1 for its controller. */
export async function freePortAndNext(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await freePort();
    if (await canListen(port + 1)) return port;
  }
  throw new Error('no free pair of ports after 100 tries');
}
