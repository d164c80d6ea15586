// The full failover matrix: every scenario × every Kafka client against one 3-node cluster, with
// the figures written to benchmarks/results/cluster-failover.{json,md}. Not part of `npm test`
// (about 15 minutes on a 2-core machine); run it with `npm run test:cluster`. CI runs the four
// scenarios for the default client and the leader kill for the others
// (test/integration/cluster-failover.test.ts).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { TestCluster } from '../support/cluster.ts';
import { type FailoverResult, failoverMarkdown, runFailover, SCENARIOS } from '../support/failover.ts';
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
  const out = path.join(repoRoot, 'benchmarks/results/cluster-failover');
  writeFileSync(
    `${out}.json`,
    `${JSON.stringify({ commit, machine, date: new Date().toISOString(), cluster: { ...startup, rssAfter }, results }, null, 2)}\n`,
  );
  writeFileSync(`${out}.md`, failoverMarkdown(JSON.parse(readFileSync(`${out}.json`, 'utf8'))));
});

for (const client of CLIENTS) {
  for (const scenario of SCENARIOS) {
    test(`${scenario}, ${client}`, async () => {
      results.push(await runFailover(cluster, scenario, client));
    });
  }
}
