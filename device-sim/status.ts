// The status line, once a second: what is connected, what was sent and acknowledged, how fast.
import type { SimCounters } from './counters.ts';
import { formatCount } from './parse.ts';

export interface StatusSnapshot {
  readonly atMs: number;
  readonly sent: number;
  readonly acked: number;
}

export function statusLine(
  c: SimCounters,
  devices: number,
  elapsedMs: number,
  prev: StatusSnapshot,
  nowMs: number,
  phase: string,
): string {
  const seconds = Math.max(0.001, (nowMs - prev.atMs) / 1000);
  const sentRate = (c.sent - prev.sent) / seconds;
  const ackRate = (c.acked - prev.acked) / seconds;
  const parts = [
    `[${String(Math.floor(elapsedMs / 1000)).padStart(4)}s] ${phase.padEnd(10)} connected ${formatCount(c.connected)}/${formatCount(devices)}`,
    `sent ${formatCount(c.sent)} (${formatCount(sentRate)}/s)`,
    `acked ${formatCount(c.acked)} (${formatCount(ackRate)}/s)`,
    `in flight ${formatCount(c.inflight)}`,
  ];
  if (c.invalidSent > 0) parts.push(`invalid ${formatCount(c.invalidSent)}`);
  if (c.oversizeSent > 0) parts.push(`oversize ${formatCount(c.oversizeSent)}`);
  if (c.skipped > 0) parts.push(`skipped ${formatCount(c.skipped)}`);
  const reconnects = c.connects - c.everConnected;
  if (reconnects > 0) parts.push(`reconnects ${formatCount(reconnects)}`);
  if (c.connectFailures > 0)
    parts.push(`connect failures ${formatCount(c.connectFailures)} (${c.lastError ?? '?'})`);
  return parts.join(' · ');
}
