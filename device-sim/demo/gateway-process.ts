// The gateway as a child process, the way users run it: `weir start --config …`. Its JSON log goes
// to a file; warnings and errors are also shown. Stopping sends SIGTERM (the gateway drains to
// Kafka and exits) and, if it does not exit in time, SIGKILL.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const WEIR = fileURLToPath(new URL('../../bin/weir.ts', import.meta.url));

export interface GatewayProcessOptions {
  readonly configPath: string;
  readonly mqttPort: number;
  readonly brokers: readonly string[];
  readonly spoolDir: string;
  readonly logFile: string;
  /** Receives the gateway's warnings and errors (pino level ≥ 40) as short lines. */
  readonly onProblem?: (line: string) => void;
  readonly readyTimeoutMs?: number;
}

export interface GatewayProcess {
  readonly pid: number;
  readonly url: string;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit code (null if killed). */
  stop(graceMs?: number): Promise<number | null>;
}

export class GatewayStartError extends Error {
  readonly code = 'WEIR_DEMO_GATEWAY_FAILED';
}

export async function startGatewayProcess(o: GatewayProcessOptions): Promise<GatewayProcess> {
  const log = createWriteStream(o.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(
    process.execPath,
    [
      WEIR,
      'start',
      '--config',
      o.configPath,
      '--mqtt-port',
      String(o.mqttPort),
      '--kafka-brokers',
      o.brokers.join(','),
      '--spool-dir',
      o.spoolDir,
      // A free port for the metrics and status listener: the demo must not collide with a weir
      // already running on the default 9464.
      '--http-port',
      '0',
    ],
    // Its own process group: Ctrl-C in the terminal reaches only the demo, which then stops the
    // gateway with one SIGTERM (a second signal would make the gateway skip its drain).
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  // Never leave it behind, whatever happens to this process (short of SIGKILL).
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = once(child, 'exit').then(([code]) => {
    process.off('exit', killOnExit);
    return code as number | null;
  });
  let tail = '';
  const onOutput = (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString()).slice(-4000);
    for (const line of chunk.toString().split('\n')) reportProblem(line, o.onProblem);
  };
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);

  const url = `mqtt://127.0.0.1:${o.mqttPort}`;
  const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
  let exitCode: number | null | undefined;
  void exited.then((c) => {
    exitCode = c;
  });
  while (!(await answers(o.mqttPort))) {
    if (exitCode !== undefined) {
      log.end();
      throw new GatewayStartError(
        `the gateway exited with code ${exitCode} before listening:\n${lastLines(tail)}`,
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      log.end();
      throw new GatewayStartError(`the gateway did not listen on ${url} in time:\n${lastLines(tail)}`);
    }
    await sleep(100);
  }

  return {
    pid: child.pid!,
    url,
    async stop(graceMs = 20_000) {
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      await new Promise<void>((resolve) => log.end(() => resolve()));
      return exited;
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function reportProblem(line: string, onProblem: ((line: string) => void) | undefined): void {
  if (onProblem === undefined || !line.startsWith('{')) return;
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
    if ((entry.level ?? 0) >= 40) {
      onProblem(`${entry.msg ?? ''}${entry.err?.message ? `: ${entry.err.message}` : ''}`);
    }
  } catch {
    // Not a log line.
  }
}

function lastLines(text: string, n = 15): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
