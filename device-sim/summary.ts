// The few lines `weir sim` prints when it is done.
import { FLEET_NAMES } from './fleets/fleet.ts';
import { formatCount, formatDuration } from './parse.ts';
import type { SimReport } from './report.ts';

export function fleetCounts(report: SimReport): string {
  const counts = new Map<string, number>();
  for (const d of report.devices) counts.set(d.fleet, (counts.get(d.fleet) ?? 0) + 1);
  return FLEET_NAMES.filter((f) => counts.has(f))
    .map((f) => `${f} ${formatCount(counts.get(f)!)}`)
    .join(', ');
}

export function simSummary(report: SimReport): string[] {
  const t = report.totals;
  const c = report.config;
  const lines = [
    `weir sim: ${formatCount(t.devices)} devices (${fleetCounts(report)}), QoS ${c.qos}, seed ${c.seed}, ` +
      `${formatDuration(report.endedAtMs - report.startedAtMs)}${report.interrupted ? ' (stopped early)' : ''}`,
  ];
  const acked = c.qos === 0 ? 'no acknowledgements at QoS 0' : `acknowledged ${formatCount(t.acked)}`;
  const parts = [`readings sent ${formatCount(t.sent)}`, acked];
  if (c.qos > 0 && t.unacked > 0) parts.push(`UNACKNOWLEDGED ${formatCount(t.unacked)}`);
  lines.push(`  ${parts.join(' · ')}`);
  const faults: string[] = [];
  if (t.invalidSent > 0)
    faults.push(`malformed ${formatCount(t.invalidSent)} (acknowledged ${formatCount(t.invalidAcked)})`);
  if (t.oversizeSent > 0) faults.push(`oversize ${formatCount(t.oversizeSent)}`);
  if (t.drops > 0) faults.push(`churn drops ${formatCount(t.drops)}`);
  if (t.disconnects > 0) faults.push(`connections lost ${formatCount(t.disconnects)}`);
  if (t.skipped > 0) faults.push(`skipped (device buffer full) ${formatCount(t.skipped)}`);
  if (t.republished > 0) faults.push(`published again after mqtt.js gave up ${formatCount(t.republished)}`);
  if (faults.length > 0) lines.push(`  ${faults.join(' · ')}`);
  const conn = [`connects ${formatCount(t.connects)}`, `reconnects ${formatCount(t.reconnects)}`];
  if (t.neverConnected > 0) conn.push(`NEVER CONNECTED ${formatCount(t.neverConnected)}`);
  lines.push(`  ${conn.join(' · ')}`);
  const failing = report.devices.filter((d) => d.connects === 0 && d.lastError !== null);
  if (failing.length > 0) lines.push(`  last error (${failing[0]!.deviceId}): ${failing[0]!.lastError}`);
  return lines;
}
