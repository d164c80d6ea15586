// weir against a real 3-node Kafka cluster (RF 3, min.insync.replicas 2) under QoS 1 load: the
// partition leader killed, a broker hung, two of three brokers lost, a rolling restart — for the
// default client; the leader kill for kafkajs and rdkafka too. Every acknowledged message arrives,
// in per-device order, nothing is dead-lettered, Kafka's silence after a fault stays bounded.
// Then three gateways (three sites) write into the same topics and `weir verify` checks them all.
// The full matrix (every scenario × every client) is `npm run test:cluster`.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { TestCluster } from '../support/cluster.ts';
import { runFailover } from '../support/failover.ts';
import { freePort, WeirProcess, writeWeirConfig } from '../support/faults.ts';
import { runWeir, tempDir } from '../support/weir-cli.ts';

// Shorter than the matrix's (12 s) so the file fits CI's budget.
const CI = { warmMs: 2_000, holdMs: 8_000 };

let cluster: TestCluster;
before(async () => {
  cluster = new TestCluster();
  const { startMs, rssBytes } = await cluster.start();
  process.stderr.write(
    `cluster: 3 nodes ready in ${startMs} ms, RSS ${rssBytes.map((b) => Math.round(b / 2 ** 20)).join(' / ')} MiB\n`,
  );
  process.env.WEIR_TEST_KAFKA_BROKERS = cluster.brokers; // the test helpers read from the cluster
});
after(() => cluster.destroy());

describe('broker failover under QoS 1 load (30 devices, 600 msg/s), default client', () => {
  test('partition leader killed (kill -9) and restarted', async () => {
    const r = await runFailover(cluster, 'leader-kill', 'platformatic', CI);
    assert.ok(r.recoverMs < 30_000, `writes resume on the new leader within 30 s (${r.recoverMs} ms)`);
  });
  test('partition leader hung (SIGSTOP) and resumed', async () => {
    const r = await runFailover(cluster, 'leader-sigstop', 'platformatic', CI);
    assert.ok(r.recoverMs < 30_000, `writes resume within 30 s (${r.recoverMs} ms)`);
  });
  test('two of three brokers lost (NOT_ENOUGH_REPLICAS): held in the spool, then delivered', async () => {
    const r = await runFailover(cluster, 'lose-two', 'platformatic', CI);
    assert.ok(r.statusSawDown, '/status said Kafka was down while it took no writes');
    assert.ok(
      r.resumeAfterRestoreMs < 30_000,
      `writes resume within 30 s of the brokers' return (${r.resumeAfterRestoreMs} ms)`,
    );
  });
  test('rolling restart of all three brokers', async () => {
    const r = await runFailover(cluster, 'rolling-restart', 'platformatic', CI);
    assert.ok(r.longestStallMs < 30_000, `no stall longer than 30 s (${r.longestStallMs} ms)`);
  });
});

describe('partition leader killed, the other clients', () => {
  for (const client of ['kafkajs', 'rdkafka'] as const) {
    test(`${client}: every acknowledged message arrives, in order`, async () => {
      const r = await runFailover(cluster, 'leader-kill', client, CI);
      assert.ok(r.recoverMs < 30_000, `writes resume on the new leader within 30 s (${r.recoverMs} ms)`);
    });
  }
});

describe('several gateways, one cluster', () => {
  test('three sites, each its own weir process, devices and spool, into the same topics: `weir verify` passes for every site, headers tell the gateways apart', async (t) => {
    const sites = ['site-a', 'site-b', 'site-c'];
    const root = tempDir(t, 'weir-sites-');
    const prefix = `sites.${Date.now()}`;
    const gateways: Array<{ site: string; weir: WeirProcess; port: number; config: string }> = [];
    t.after(async () => {
      for (const g of gateways) await g.weir.stop().catch(() => {});
    });
    for (const site of sites) {
      const dir = path.join(root, site);
      mkdirSync(dir);
      const port = await freePort();
      const { file } = writeWeirConfig({ dir, port, brokers: cluster.brokers, topicPrefix: prefix });
      const raw = parse(readFileSync(file, 'utf8')) as Record<string, unknown> & {
        kafka: { brokers: string[] };
      };
      raw['gatewayId'] = site;
      raw.kafka.brokers = cluster.brokerList;
      writeFileSync(file, stringify(raw));
      const weir = new WeirProcess(file);
      await weir.start();
      gateways.push({ site, weir, port, config: file });
    }
    const runs = await Promise.all(
      gateways.map((g) =>
        runWeir(
          [
            'sim',
            '--broker',
            `mqtt://127.0.0.1:${g.port}`,
            '--devices',
            '20',
            '--rate',
            '10',
            '--duration',
            '20s',
            '--id-prefix',
            g.site,
            '--report',
            path.join(root, `${g.site}.json`),
            '--quiet',
          ],
          { timeoutMs: 120_000 },
        ),
      ),
    );
    for (const [i, r] of runs.entries()) assert.equal(r.code, 0, `sim for ${sites[i]}: ${r.stderr}`);
    const verify = await runWeir(
      [
        'verify',
        ...sites.flatMap((s) => ['--report', path.join(root, `${s}.json`)]),
        '--config',
        gateways[0]!.config,
        '--kafka-brokers',
        cluster.brokers,
        '--wait',
        '30s',
        '--json',
        '--quiet',
      ],
      { timeoutMs: 180_000 },
    );
    assert.equal(verify.code, 0, `weir verify across the sites:\n${verify.stdout}\n${verify.stderr}`);
    const results = JSON.parse(verify.stdout) as Array<{
      verdict: string;
      gateways: Record<string, number>;
      fleets: Array<{
        acked: number;
        received: number;
        lost: number;
        duplicates: number;
        outOfOrder: number;
      }>;
    }>;
    assert.equal(results.length, 3);
    const summary: string[] = [];
    for (const [i, r] of results.entries()) {
      const sum = (k: 'acked' | 'received' | 'lost' | 'duplicates' | 'outOfOrder') =>
        r.fleets.reduce((n, f) => n + f[k], 0);
      assert.equal(r.verdict, 'pass');
      assert.equal(sum('lost'), 0);
      assert.equal(
        sum('outOfOrder'),
        0,
        'per-device order holds with three gateways writing to one partition',
      );
      assert.deepEqual(Object.keys(r.gateways), [sites[i]], 'each site’s records carry its own gateway id');
      assert.ok(sum('acked') > 20 * 10 * 20 * 0.8, `${sites[i]} kept publishing (${sum('acked')})`);
      summary.push(`${sites[i]} ${sum('acked')} acked, ${sum('lost')} lost, ${sum('duplicates')} duplicates`);
    }
    process.stderr.write(`three gateways: ${summary.join('; ')}\n`);
  });
});
