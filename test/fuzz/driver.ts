// The fuzz driver: sends hostile sessions (test/fuzz/packets.ts) to an MQTT listener over many
// concurrent raw TCP connections until `packets` frames are sent. The sequence of sessions
// depends only on the seed; which connection carries which session depends on timing.
import net from 'node:net';
import { nextSession, type SessionKind } from './packets.ts';
import { Prng } from './prng.ts';

export interface FuzzOptions {
  readonly host: string;
  readonly port: number;
  readonly packets: number;
  readonly seed: number;
  /** Connections open at the same time. */
  readonly concurrency: number;
  /** Stops early when this time has passed (the result says how far it got). */
  readonly maxMs: number;
  readonly onProgress?: (sent: number) => void;
}

export interface FuzzResult {
  packets: number;
  bytes: number;
  sessions: number;
  byKind: Record<SessionKind, number>;
  /** Sessions the gateway closed before the driver did. */
  closedByGateway: number;
  /** Connections refused outright (ECONNREFUSED): the listener was gone. */
  refused: number;
  ms: number;
}

/** The longest one session may take before the driver destroys its socket. */
const SESSION_MAX_MS = 2000;

export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const rng = new Prng(opts.seed);
  const started = performance.now();
  const result: FuzzResult = {
    packets: 0,
    bytes: 0,
    sessions: 0,
    byKind: { protocol: 0, 'no-connect': 0, 'bad-connect': 0, 'out-of-order': 0, malformed: 0, random: 0 },
    closedByGateway: 0,
    refused: 0,
    ms: 0,
  };
  let lastProgress = 0;
  const more = () => result.packets < opts.packets && performance.now() - started < opts.maxMs;

  async function worker(): Promise<void> {
    while (more()) {
      const session = nextSession(rng);
      // What the session does after sending is decided now, so it follows from the seed too.
      const ending = rng.pick(['end', 'destroy', 'wait', 'wait'] as const);
      const split = rng.chance(0.3) ? rng.int(1, 3) : 0;
      result.sessions++;
      result.byKind[session.kind]++;
      result.packets += session.frames.length;
      const data = Buffer.concat(session.frames);
      result.bytes += data.length;
      await runSession(data, split, ending);
      if (opts.onProgress && result.packets - lastProgress >= 50_000) {
        lastProgress = result.packets;
        opts.onProgress(result.packets);
      }
    }
  }

  function runSession(data: Buffer, split: number, ending: 'end' | 'destroy' | 'wait'): Promise<void> {
    return new Promise((resolve) => {
      const socket = net.connect(opts.port, opts.host);
      let driverClosing = false;
      const timer = setTimeout(() => {
        driverClosing = true;
        socket.destroy();
      }, SESSION_MAX_MS);
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') result.refused++;
      });
      socket.on('data', () => {}); // read what the gateway sends, so it is never the one stalled
      socket.on('close', () => {
        clearTimeout(timer);
        if (!driverClosing) result.closedByGateway++;
        resolve();
      });
      socket.on('connect', () => {
        // Split writes exercise the parser across reads.
        let at = 0;
        for (let i = 0; i < split && data.length > 1; i++) {
          const cut = at + Math.floor(((data.length - at) * (i + 1)) / (split + 1));
          socket.write(data.subarray(at, cut));
          at = cut;
        }
        socket.write(data.subarray(at));
        if (ending === 'end') {
          driverClosing = true;
          socket.end();
        } else if (ending === 'destroy') {
          driverClosing = true;
          setImmediate(() => socket.destroy());
        } else {
          setTimeout(() => {
            driverClosing = true;
            socket.destroy();
          }, 200);
        }
      });
    });
  }

  await Promise.all(Array.from({ length: opts.concurrency }, () => worker()));
  result.ms = Math.round(performance.now() - started);
  return result;
}
