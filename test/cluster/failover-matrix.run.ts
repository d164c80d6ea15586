// The full failover matrix: every scenario × every Kafka client against one 3-node cluster, with
// the figures written to benchmarks/results/cluster-failover.{json,md}. Not part of `npm test`
// (about 15 minutes on a 2-core machine); run it with `npm run test:cluster`. CI runs the four
// scenarios for the default client and the leader kill for the others
// (test/integration/cluster-failover.test.ts).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { TestCluster } from '../support/cluster.ts';
import { type FailoverResult, runFailover, SCENARIOS } from '../support/failover.ts';
import { repoRoot } from '../support/gateway.ts';

const CLIENTS = ['platformatic', 'kafkajs', 'rdkafka'] as const;
const results: FailoverResult[] = [];
let cluster: TestCluster;
let startup: { startMs: number; rssBytes: number[] };

before(async () => {
  cluster = new TestCluster();
  startup = await cluster.start();
  process.env.WEIR_TEST_KAFKA_BROKERS = cluster.brokers;
});

after(async () => {
  const rssAfter = await Promise.all(cluster.nodeIds.map((id) => cluster.rss(id)));
  await cluster.destroy();
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot }).toString().trim();
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  const mib = (b: number) => Math.round(b / 2 ** 20);
  const out = path.join(repoRoot, 'benchmarks/results/cluster-failover');
  writeFileSync(
    `${out}.json`,
    `${JSON.stringify({ commit, machine, date: new Date().toISOString(), cluster: { ...startup, rssAfter }, results }, null, 2)}\n`,
  );
  const rows = results.map(
    (r) =>
      `| ${r.scenario} | ${r.client} | ${r.acknowledged} | ${r.lost} | ${r.duplicates} | ${r.outOfOrder} | ${r.deadLetters} | ${r.recoverMs < 0 ? '–' : (r.recoverMs / 1000).toFixed(1)} | ${r.resumeAfterRestoreMs < 0 ? '–' : (r.resumeAfterRestoreMs / 1000).toFixed(1)} | ${(r.longestStallMs / 1000).toFixed(1)} | ${r.maxBacklogRecords} | ${r.statusSawDown ? 'yes' : 'no'} |`,
  );
  writeFileSync(
    `${out}.md`,
    [
      `# Broker failover on a 3-node cluster (commit ${commit})`,
      '',
      `Machine: ${machine}. Command: \`npm run test:cluster\`. Cluster: 3 combined broker+controller nodes, RF 3, min.insync.replicas 2, ${startup.startMs} ms to start, RSS ${startup.rssBytes.map(mib).join(' / ')} MiB after start, ${rssAfter.map(mib).join(' / ')} MiB at the end.`,
      `Load: 30 QoS 1 devices at 20 msg/s each (600 msg/s), persistent sessions.`,
      '',
      '| scenario | client | acknowledged | lost | duplicates | out of order | dead letters | writes resumed after the fault (s) | … after the brokers were back (s) | longest stall (s) | max backlog (records) | /status said down |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...rows,
      '',
    ].join('\n'),
  );
});

for (const client of CLIENTS) {
  for (const scenario of SCENARIOS) {
    test(`${scenario}, ${client}`, async () => {
      results.push(await runFailover(cluster, scenario, client));
    });
  }
}
