// paho-mqtt (Python) as an independent MQTT 5 device: runs test/support/paho_v5_device.py and
// reads what it reports, one JSON line per event. The interpreter is Debian's /usr/bin/python3
// (it sees the python3-paho-mqtt package; a pyenv or venv python3 on PATH usually does not);
// WEIR_TEST_PYTHON names another one that has paho-mqtt.
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from './gateway.ts';

export const PYTHON_ENV = 'WEIR_TEST_PYTHON';
const python = process.env[PYTHON_ENV] ?? '/usr/bin/python3';
const script = path.join(repoRoot, 'test/support/paho_v5_device.py');

/** Fails with what to install when the interpreter has no paho-mqtt: a missing client is not a pass. */
export async function requirePaho(): Promise<void> {
  try {
    await promisify(execFile)(python, ['-c', 'import paho.mqtt.client']);
  } catch (err) {
    throw new Error(
      `paho-mqtt for Python is needed: ${python} cannot import paho.mqtt.client. ` +
        `Install it with \`apt-get install python3-paho-mqtt\` (npm test does as root), ` +
        `or set ${PYTHON_ENV} to a python3 that has paho-mqtt.`,
      { cause: err },
    );
  }
}

export interface PahoMessage {
  readonly topic: string;
  readonly payload: string;
  readonly qos: 0 | 1 | 2;
  /** Sent as the Topic Alias property; with an empty topic, uses the alias set before. */
  readonly alias?: number;
}

export interface PahoEvent {
  readonly event: 'connack' | 'ack' | 'done' | 'disconnect';
  readonly reasonCode?: number;
  readonly sessionPresent?: boolean;
  /** CONNACK properties by paho's names (ReceiveMaximum, AssignedClientIdentifier, …). */
  readonly properties?: Record<string, unknown>;
  /** Which message of `messages` an ack is for, and its packet (PUBACK, PUBREC, PUBCOMP). */
  readonly index?: number;
  readonly packet?: string;
  /** The Reason String of the gateway's DISCONNECT. */
  readonly reasonString?: string | null;
}

export interface PahoDevice {
  /** Every event so far, in order. */
  readonly events: PahoEvent[];
  /** Resolves with the first event of that kind (already seen or to come). */
  next(kind: PahoEvent['event'], timeoutMs?: number): Promise<PahoEvent>;
  /** Resolves with the exit code when the script ends. */
  readonly exited: Promise<number | null>;
}

/**
 * Starts one paho device: it connects, publishes `messages` in order and reports the gateway's
 * answers; with `stay` it keeps the connection until the gateway closes it.
 */
export function pahoDevice(
  t: TestContext,
  o: {
    port: number;
    clientId: string;
    username?: string;
    password?: string;
    sessionExpirySeconds?: number;
    messages: readonly PahoMessage[];
    stay?: boolean;
  },
): PahoDevice {
  const args = [script, '--port', String(o.port), '--client-id', o.clientId];
  if (o.username !== undefined) args.push('--username', o.username, '--password', o.password ?? '');
  if (o.sessionExpirySeconds !== undefined) args.push('--session-expiry', String(o.sessionExpirySeconds));
  if (o.stay === true) args.push('--stay');
  args.push('--messages', JSON.stringify(o.messages));

  const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const events: PahoEvent[] = [];
  const waiting = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    events.push(JSON.parse(line) as PahoEvent);
    for (const wake of waiting) wake();
  });
  let running = true;
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      running = false;
      for (const wake of waiting) wake();
      resolve(code);
    }),
  );
  t.after(() => {
    if (running) child.kill();
  });

  function next(kind: PahoEvent['event'], timeoutMs = 20_000): Promise<PahoEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = events.find((e) => e.event === kind);
        if (found === undefined && running) return;
        waiting.delete(check);
        clearTimeout(timer);
        if (found !== undefined) resolve(found);
        else reject(new Error(`paho device ${o.clientId} ended without "${kind}": ${stderr}`));
      };
      const timer = setTimeout(() => {
        waiting.delete(check);
        reject(
          new Error(`paho device ${o.clientId}: no "${kind}" within ${timeoutMs} ms; stderr: ${stderr}`),
        );
      }, timeoutMs);
      waiting.add(check);
      check();
    });
  }
  return { events, next, exited };
}
