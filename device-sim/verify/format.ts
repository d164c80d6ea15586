// The human-readable verify result: one table of counts per fleet, one of latencies, the devices
// with findings, and the verdict.
import { formatCount, formatDuration } from '../parse.ts';
import { formatRanges } from '../seq-ranges.ts';
import type { Percentiles } from './percentiles.ts';
import type { VerifyResult } from './verify.ts';

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, leftColumns = 1): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

const ms = (p: Percentiles | null, k: keyof Omit<Percentiles, 'count'>) =>
  p === null ? '–' : formatCount(p[k]);

export function formatResult(r: VerifyResult): string[] {
  const out: string[] = [];
  out.push(
    `weir verify: run ${r.runId}, QoS ${r.qos} · read ${formatCount(r.read.records)} records in ${formatDuration(r.read.durationMs)}` +
      (r.read.foreign > 0 ? ` (${formatCount(r.read.foreign)} from other runs ignored)` : ''),
    '',
  );
  const counts = r.fleets.map((f) => [
    f.fleet,
    f.topic,
    formatCount(f.devices),
    formatCount(f.sent),
    r.qos === 0 ? '–' : formatCount(f.acked),
    formatCount(f.received),
    formatCount(f.lost),
    formatCount(f.duplicates),
    formatCount(f.outOfOrder),
    r.integrity === 'checked' ? formatCount(f.corrupted) : '–',
  ]);
  out.push(
    ...table(
      [
        'fleet',
        'Kafka topic',
        'devices',
        'sent',
        'acked',
        'received',
        'lost',
        'duplicates',
        'out of order',
        'corrupted',
      ],
      counts,
      2,
    ),
    '',
  );
  const latencyRows: string[][] = [];
  for (const f of r.fleets) {
    latencyRows.push([
      f.fleet,
      'receivedAt − ts (device → gateway)',
      ms(f.latency.gateway, 'p50'),
      ms(f.latency.gateway, 'p95'),
      ms(f.latency.gateway, 'p99'),
      ms(f.latency.gateway, 'max'),
    ]);
    if (f.latency.append !== null) {
      latencyRows.push([
        '',
        'Kafka append time − ts (device → Kafka)',
        ms(f.latency.append, 'p50'),
        ms(f.latency.append, 'p95'),
        ms(f.latency.append, 'p99'),
        ms(f.latency.append, 'max'),
      ]);
    }
  }
  out.push(...table(['latency, ms', '', 'p50', 'p95', 'p99', 'max'], latencyRows, 2));
  const createTime = r.fleets.filter((f) => f.timestampType === 'CreateTime').map((f) => f.topic);
  if (createTime.length > 0) {
    out.push(
      `  (no Kafka append time for ${createTime.join(', ')}: the topic keeps the producer's timestamp, which weir sets to receivedAt;`,
      '   `weir verify --prepare-topics` switches topics to LogAppendTime before a run)',
    );
  }
  out.push('');

  const extra: string[] = [];
  const sum = (
    k: 'unackedReceived' | 'unackedMissing' | 'unexpected' | 'noSeq' | 'keyMismatch' | 'outOfOrderDevices',
  ) => r.fleets.reduce((s, f) => s + f[k], 0);
  if (r.qos > 0 && sum('unackedReceived') + sum('unackedMissing') > 0) {
    extra.push(
      `unacknowledged at the end of the run: ${formatCount(sum('unackedReceived'))} in Kafka, ${formatCount(sum('unackedMissing'))} not (not counted as lost)`,
    );
  }
  if (r.qos === 0)
    extra.push(
      `QoS 0: nothing is acknowledged; ${formatCount(sum('unackedMissing'))} readings sent did not arrive`,
    );
  if (sum('outOfOrderDevices') > 0)
    extra.push(`devices with out-of-order records: ${formatCount(sum('outOfOrderDevices'))}`);
  if (sum('unexpected') > 0)
    extra.push(`records with a seq the device never sent: ${formatCount(sum('unexpected'))}`);
  if (sum('noSeq') > 0) extra.push(`records without seq: ${formatCount(sum('noSeq'))}`);
  if (sum('keyMismatch') > 0)
    extra.push(`records whose Kafka key is not their deviceId: ${formatCount(sum('keyMismatch'))}`);
  if (r.deadLetters !== null) {
    const d = r.deadLetters;
    const reasons = Object.entries(d.byReason)
      .map(([k, v]) => `${k} ${formatCount(v)}`)
      .join(', ');
    extra.push(
      `dead letters in ${d.topic}: ${formatCount(d.found)} for ${formatCount(d.expected)} acknowledged malformed messages${reasons ? ` (${reasons})` : ''}`,
    );
  }
  const gws = Object.entries(r.gateways).sort(([a], [b]) => (a < b ? -1 : 1));
  if (gws.length > 1 || (gws.length === 1 && gws[0]![0] !== '')) {
    extra.push(
      `records per gateway (weir-gateway-id): ${gws.map(([id, n]) => `${id === '' ? '(none)' : id} ${formatCount(n)}`).join(', ')}`,
    );
  }
  if (r.integrity === 'unavailable') {
    extra.push('values not compared: the report was written by a different version of the fleet models');
  }
  if (!r.read.complete) extra.push('reading hit the time limit before the end offsets (raise --timeout)');
  if (extra.length > 0) out.push(...extra, '');

  if (r.findings.length > 0) {
    out.push(
      `devices with findings: ${formatCount(r.devicesWithFindings)}${r.devicesWithFindings > 10 ? ' (first 10)' : ''}`,
    );
    for (const f of r.findings.slice(0, 10)) {
      const parts: string[] = [];
      if (f.lostCount > 0) parts.push(`lost seq ${formatRanges(f.lost)}`);
      if (f.duplicates > 0) parts.push(`${f.duplicates} duplicate${f.duplicates === 1 ? '' : 's'}`);
      if (f.outOfOrder > 0) parts.push(`${f.outOfOrder} out of order`);
      if (f.corrupted > 0) parts.push(`${f.corrupted} corrupted (${f.corruptFields.join(', ')})`);
      if (f.unexpected > 0) parts.push(`${f.unexpected} unexpected seq`);
      out.push(`  ${f.deviceId}: ${parts.join('; ')}`);
    }
    out.push('');
  }
  const label = r.verdict === 'pass' ? 'PASS' : r.verdict === 'fail' ? 'FAIL' : 'INCOMPLETE';
  out.push(`${label}: ${r.reasons.join('; ')}`);
  return out;
}

/** One line over the results of several reports (several sites, or several gateways). */
export function formatSummary(results: readonly VerifyResult[]): string {
  let acked = 0;
  let lost = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  for (const r of results) {
    for (const f of r.fleets) {
      acked += f.acked;
      lost += f.lost;
      duplicates += f.duplicates;
      outOfOrder += f.outOfOrder;
    }
  }
  const verdicts = results.map((r) => r.verdict);
  const label = verdicts.every((v) => v === 'pass')
    ? 'PASS'
    : verdicts.includes('fail')
      ? 'FAIL'
      : 'INCOMPLETE';
  return `${label} over ${results.length} reports: ${formatCount(acked)} acknowledged, ${formatCount(lost)} lost, ${formatCount(duplicates)} duplicates, ${formatCount(outOfOrder)} out of order`;
}
