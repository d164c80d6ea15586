// Ports on 127.0.0.1 for the local services: is one free, does something answer on one, which are
// free now.
import { connect, createServer, type Server } from 'node:net';

/** Whether a TCP connection to 127.0.0.1:`port` opens within `timeoutMs`. */
export function tcpAnswers(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Resolves when 127.0.0.1:`port` can be listened on; otherwise rejects with `busy(reason)`, the
 * caller's error, where reason is the system's code (EADDRINUSE, EACCES).
 */
export function assertPortFree(port: number, busy: (reason: string) => Error): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => reject(busy(e.code ?? e.message)));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolvePromise()));
  });
}

/** `count` distinct ports that were free on 127.0.0.1 a moment ago (for a broker and its controller). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve);
      });
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
