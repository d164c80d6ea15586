// Reading weir's operations listener the way Prometheus and a monitoring script do: over HTTP.
import type { GatewayStatus } from '../../gateway/http/status.ts';
import { sleep } from './faults.ts';

/** One scrape of /metrics: `name{labels}` (labels as written by prom-client) → value. */
export type Scrape = Map<string, number>;

export async function scrape(base: string): Promise<Scrape> {
  const res = await fetch(`${base}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const out: Scrape = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** A series' value; `labels` in the order prom-client writes them. Throws when absent. */
export function series(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const entries = Object.entries(labels);
  const key = entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  const v = s.get(key);
  if (v === undefined) throw new Error(`no series ${key} in the scrape`);
  return v;
}

export async function getStatus(base: string): Promise<GatewayStatus> {
  const res = await fetch(`${base}/status`);
  if (res.status !== 200) throw new Error(`/status answered ${res.status}`);
  return (await res.json()) as GatewayStatus;
}

/** Polls /status until `check` holds; fails with the last status seen. */
export async function waitForStatus(
  base: string,
  check: (s: GatewayStatus) => boolean,
  timeoutMs: number,
  what: string,
): Promise<GatewayStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await getStatus(base);
    if (check(s)) return s;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last /status:\n${JSON.stringify(s, null, 2)}`,
      );
    await sleep(200);
  }
}
