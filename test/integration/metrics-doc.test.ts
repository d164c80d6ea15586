// The README's Metrics table is the list of what weir exports: every metric of a running gateway
// (spool on) is in it, with its type and labels, and it names nothing weir does not export.
// A gateway with the blackhole sink: no Kafka needed.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { loadConfigFile } from '../../gateway/config/load.ts';
import { startGateway } from '../../gateway/main.ts';
import { BlackholeSink } from '../../gateway/sinks/blackhole.ts';
import { examplePath, repoRoot } from '../support/gateway.ts';

test('the README Metrics table lists exactly the metrics weir exports', async (t) => {
  const spoolDir = mkdtempSync(path.join(tmpdir(), 'weir-metrics-doc-'));
  const loaded = loadConfigFile(examplePath, { mqttPort: '0', httpPort: '0', spoolDir });
  const gateway = await startGateway(loaded, {
    log: pino({ level: 'silent' }),
    sink: new BlackholeSink(),
  });
  t.after(() => gateway.stop());
  const exported = (await gateway.metrics.registry.getMetricsAsJSON()).map((m) => ({
    name: m.name,
    type: String(m.type),
    labels: [...new Set(m.values.flatMap((v) => Object.keys(v.labels)))].filter((l) => l !== 'le').sort(),
  }));

  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Metrics\n'), readme.indexOf('### Logs\n'));
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => l.split('|').map((c) => c.trim()));
  const documented = new Map(
    rows.map(([, name, type, labels]) => [
      name!.replaceAll('`', ''),
      {
        type: type!,
        labels: labels!
          .split(',')
          .map((x) => x.trim().replaceAll('`', ''))
          .filter(Boolean)
          .sort(),
      },
    ]),
  );
  assert.ok(documented.has('process_*, nodejs_*'), 'the Node process metrics have their row');

  const missing: string[] = [];
  for (const m of exported) {
    if (/^(process|nodejs)_/.test(m.name)) continue;
    const doc = documented.get(m.name);
    if (doc === undefined) {
      missing.push(m.name);
      continue;
    }
    assert.equal(doc.type, m.type, `${m.name}: type`);
    assert.deepEqual(doc.labels, m.labels, `${m.name}: labels`);
  }
  assert.deepEqual(missing, [], 'exported but not in the README table');
  const names = new Set(exported.map((m) => m.name));
  // The registry's metrics exist only with schemaRegistry configured (registry-pipeline.test.ts
  // reads them from a gateway with a registry).
  const stale = [...documented.keys()].filter(
    (n) => n.startsWith('weir_') && !n.startsWith('weir_registry_') && !names.has(n),
  );
  assert.deepEqual(stale, [], 'in the README table but not exported');
  assert.ok(exported.some((m) => m.name === 'process_resident_memory_bytes'));
});
