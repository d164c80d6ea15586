import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseSubscribeRule, type SubscribeRule, subscribeAllowed } from '../../gateway/auth/acl.ts';
import { loadConfigFile } from '../../gateway/config/load.ts';
import type { OutboundRecord, RecordQueue } from '../../gateway/contracts.ts';
import { DeadLetterEncoder } from '../../gateway/deadletter/deadletter.ts';
import { RoutingIntake } from '../../gateway/intake/intake.ts';
import { compileRoutes } from '../../gateway/intake/routes.ts';
import { createMetrics } from '../../gateway/metrics.ts';
import { Router } from '../../gateway/router/router.ts';

function rules(...patterns: string[]): SubscribeRule[] {
  return patterns.map((p) => {
    const parsed = parseSubscribeRule(p);
    assert.ok('rule' in parsed, p);
    return parsed.rule;
  });
}

describe('subscribe rules', () => {
  test('nothing is allowed without a rule', () => {
    assert.equal(subscribeAllowed([], 'dev-1', 'cmd/dev-1/#'), false);
    assert.equal(subscribeAllowed([], null, '#'), false);
  });

  test('{deviceId} stands for the own id; a rule covers itself and narrower filters only', () => {
    const r = rules('cmd/{deviceId}/#');
    assert.equal(subscribeAllowed(r, 'dev-1', 'cmd/dev-1/#'), true);
    assert.equal(subscribeAllowed(r, 'dev-1', 'cmd/dev-1/reboot'), true);
    assert.equal(subscribeAllowed(r, 'dev-1', 'cmd/dev-1'), true, "'#' also matches the parent level");
    assert.equal(subscribeAllowed(r, 'dev-1', 'cmd/dev-2/#'), false);
    assert.equal(subscribeAllowed(r, 'dev-1', 'cmd/+/reboot'), false);
    assert.equal(subscribeAllowed(r, 'dev-1', 'cmd/#'), false);
    assert.equal(subscribeAllowed(r, 'dev-1', '#'), false);
    assert.equal(subscribeAllowed(r, null, 'cmd/dev-1/#'), false, 'no identity, no {deviceId} rule');
  });

  test('+ in a rule covers one level, not a #', () => {
    const r = rules('config/+/site');
    assert.equal(subscribeAllowed(r, null, 'config/a/site'), true);
    assert.equal(subscribeAllowed(r, null, 'config/+/site'), true);
    assert.equal(subscribeAllowed(r, null, 'config/#'), false);
    assert.equal(subscribeAllowed(r, null, 'config/a/site/x'), false);
  });

  test('malformed rules are refused', () => {
    for (const bad of ['a/#/b', 'a/{id}', 'a/x+', '$SYS/#']) {
      assert.ok('problems' in parseSubscribeRule(bad), bad);
    }
  });
});

describe('publish ACL in the intake', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const routes = compileRoutes(loadConfigFile(path.join(root, 'deploy/weir.example.yaml')));

  function intake() {
    const metrics = createMetrics({ routes: routes.map((r) => r.name), version: 'test' });
    const queued: Array<{ topic: string; record: OutboundRecord }> = [];
    const queue: RecordQueue = {
      enqueue(topic, record, _qos, settle) {
        queued.push({ topic, record });
        settle(null);
      },
    };
    const refused: string[] = [];
    const i = new RoutingIntake(
      new Router(routes),
      queue,
      new DeadLetterEncoder('dl', 'gw'),
      metrics,
      (msg) => refused.push(msg.topic),
    );
    return { i, queued, metrics, refused };
  }
  const payload = Buffer.from(JSON.stringify({ seq: 1, ts: 1, speedKmh: 1, latDeg: 1, lonDeg: 1 }));
  const publish = (i: RoutingIntake, topic: string, identity: string | null) =>
    new Promise<Error | null | undefined>((resolve) =>
      i.accept({ topic, payload, qos: 1, clientId: identity ?? 'x', identity, receivedAt: 1 }, resolve),
    );

  test('a device publishes as itself: its key segment must be its id', async () => {
    const { i, queued, metrics, refused } = intake();
    assert.equal(await publish(i, 'fleet/f1/vehicles/bus-7/position', 'bus-7'), null);
    const err = await publish(i, 'fleet/f1/vehicles/bus-8/position', 'bus-7');
    assert.equal((err as { code?: string } | null | undefined)?.code, 'WEIR_UNAUTHORIZED');
    // The key is the named segment the route says, not any level that happens to match.
    const city = await publish(i, 'city/bus-7/air/sensor-1', 'bus-7');
    assert.equal((city as { code?: string } | null | undefined)?.code, 'WEIR_UNAUTHORIZED');
    assert.deepEqual(
      queued.map((q) => q.record.key?.toString()),
      ['bus-7'],
    );
    assert.equal(metrics.dropped.counts.unauthorized, 2);
    assert.deepEqual(refused, ['fleet/f1/vehicles/bus-8/position', 'city/bus-7/air/sensor-1']);
  });

  test('without an identity (auth: none) publishes are not restricted', async () => {
    const { i, queued, metrics } = intake();
    assert.equal(await publish(i, 'fleet/f1/vehicles/bus-8/position', null), null);
    assert.equal(queued.length, 1);
    assert.equal(metrics.dropped.counts.unauthorized, 0);
  });

  test('a topic no route matches still goes to the dead letters, for devices that logged in too', async () => {
    const { i, queued, metrics } = intake();
    assert.equal(await publish(i, 'somewhere/else', 'bus-7'), null);
    assert.equal(queued[0]?.topic, 'dl');
    assert.equal(metrics.deadLetters.counts.no_route, 1);
  });
});
