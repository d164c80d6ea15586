// Debian's mosquitto for the benchmarks: found, or installed with apt-get when missing and this runs
// as root; and, for the peer case, its message store watched through $SYS (how many messages it
// holds that a subscriber has not acknowledged yet).
import { execFileSync, spawnSync } from 'node:child_process';
import process from 'node:process';
import mqtt from 'mqtt';

function findBinary(): string | null {
  for (const p of ['/usr/sbin/mosquitto', '/usr/bin/mosquitto']) {
    if (spawnSync(p, ['-h']).error === undefined) return p;
  }
  return null;
}

/** The mosquitto binary and its version, installing it first when possible; null when it is not there. */
export function ensureMosquitto(say: (line: string) => void): { bin: string; version: string | null } | null {
  let bin = findBinary();
  if (bin === null && process.getuid?.() === 0) {
    say('not installed; apt-get install -y mosquitto');
    try {
      execFileSync('apt-get', ['install', '-y', 'mosquitto'], { stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
      execFileSync('apt-get', ['install', '-y', 'mosquitto'], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    bin = findBinary();
  }
  if (bin === null) return null;
  const help = spawnSync(bin, ['-h'], { encoding: 'utf8' }).stdout;
  return { bin, version: /mosquitto version ([^\s]+)/.exec(help)?.[1] ?? null };
}

export interface StoreWatch {
  /** Messages mosquitto holds for subscribers, as of its last $SYS update (null before the first). */
  held(): number | null;
  /** Since when (ms) it has held none, or null while it holds some. */
  emptySince(): number | null;
  /** The most it held since the last reset. */
  maxHeld(): number;
  resetMax(): void;
  close(): Promise<void>;
}

const STORE = '$SYS/broker/store/messages/count';
const RETAINED = '$SYS/broker/retained messages/count';

/**
 * Follows what mosquitto holds for subscribers, queued or in flight and not yet acknowledged:
 * `$SYS/broker/store/messages/count` less `$SYS/broker/retained messages/count` (the store also
 * holds the retained $SYS messages themselves). mosquitto publishes each every `sys_interval`
 * seconds, but only when it changed: a value is current until the next one.
 */
export async function watchStore(port: number): Promise<StoreWatch> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId: `weir-bench-sys-${process.pid}`,
    clean: true,
    reconnectPeriod: 0,
  });
  let stored: number | null = null;
  let retained: number | null = null;
  let held: number | null = null;
  let emptySince: number | null = null;
  let max = 0;
  client.on('message', (topic, payload) => {
    const n = Number(payload.toString());
    if (topic === STORE) stored = n;
    else retained = n;
    if (stored === null || retained === null) return;
    held = Math.max(0, stored - retained);
    max = Math.max(max, held);
    if (held > 0) emptySince = null;
    else emptySince ??= Date.now();
  });
  await client.subscribeAsync([STORE, RETAINED], { qos: 0 });
  return {
    held: () => held,
    emptySince: () => emptySince,
    maxHeld: () => max,
    resetMax: () => {
      max = held ?? 0;
    },
    close: async () => {
      await client.endAsync(true);
    },
  };
}
