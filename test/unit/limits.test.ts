import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkTopic, keepaliveAllowed, TokenBucket } from '../../gateway/source/limits.ts';

describe('token bucket', () => {
  test('admits a burst, then the rate', () => {
    const b = new TokenBucket(10, 3, 0);
    assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
    // 10/s: one token per 100 ms; the bucket owes one, so 200 ms repay it and earn the next.
    assert.equal(b.waitMs(0), 100);
    assert.equal(b.take(200), true);
    assert.equal(b.take(200), false);
  });

  test('refills up to the burst, never beyond', () => {
    const b = new TokenBucket(1000, 5, 0);
    for (let i = 0; i < 5; i++) b.take(0);
    assert.equal(b.tokens(60_000), 5);
    assert.equal(b.waitMs(60_000), 0);
  });

  test('debt: everything taken is owed, and waitMs says how long until it is repaid', () => {
    const b = new TokenBucket(100, 10, 1000);
    let admitted = 0;
    for (let i = 0; i < 60; i++) if (b.take(1000)) admitted++;
    assert.equal(admitted, 10);
    assert.equal(b.tokens(1000), -50);
    assert.equal(b.waitMs(1000), 500); // 50 tokens at 100/s
    assert.equal(b.waitMs(1250), 250);
    assert.equal(b.waitMs(1500), 0);
  });

  test('long-run rate equals ratePerSecond when every wait is kept', () => {
    // A sender as fast as allowed: after a refused take it waits what waitMs says.
    const b = new TokenBucket(50, 1, 0);
    let sent = 0;
    let t = 0;
    while (t < 10_000) {
      sent++;
      if (!b.take(t)) t += b.waitMs(t);
    }
    assert.ok(sent >= 499 && sent <= 502, `sent ${sent} in 10 s`);
  });

  test('a clock that steps back does not mint tokens', () => {
    const b = new TokenBucket(10, 1, 5000);
    b.take(5000);
    assert.equal(b.take(4000), false);
  });

  test('refuses a rate of 0 and a burst below 1', () => {
    assert.throws(() => new TokenBucket(0, 1, 0), RangeError);
    assert.throws(() => new TokenBucket(1, 0, 0), RangeError);
  });
});

describe('topic checks', () => {
  test('passes topics within the limits', () => {
    assert.equal(checkTopic('fleet/buses/vehicles/bus-1/position', 1024, 32), null);
    assert.equal(checkTopic('a', 1, 1), null);
    assert.equal(checkTopic('a/b/c', 5, 3), null);
  });

  test('counts UTF-8 bytes, not characters', () => {
    const t = 'é'.repeat(10); // 20 bytes
    assert.equal(checkTopic(t, 20, 32), null);
    assert.equal(checkTopic(t, 19, 32), 'topic_too_long');
    assert.equal(checkTopic('😀', 4, 32), null);
    assert.equal(checkTopic('😀', 3, 32), 'topic_too_long');
  });

  test('refuses a topic over the byte limit', () => {
    assert.equal(checkTopic('x'.repeat(1025), 1024, 32), 'topic_too_long');
    assert.equal(checkTopic('abcdef', 5, 32), 'topic_too_long');
  });

  test('refuses a topic with too many levels, empty levels included', () => {
    assert.equal(checkTopic('a/b/c/d', 1024, 3), 'topic_too_many_levels');
    assert.equal(checkTopic('///', 1024, 3), 'topic_too_many_levels');
    assert.equal(checkTopic('//', 1024, 3), null);
    assert.equal(checkTopic(`${'a/'.repeat(31)}a`, 1024, 32), null);
    assert.equal(checkTopic('a/'.repeat(32), 1024, 32), 'topic_too_many_levels');
  });
});

describe('keepalive bounds', () => {
  test('0 (no keepalive) only when the minimum is 0', () => {
    assert.equal(keepaliveAllowed(0, 0, 3600), true);
    assert.equal(keepaliveAllowed(0, 1, 3600), false);
  });

  test('other values within [min, max]', () => {
    assert.equal(keepaliveAllowed(60, 10, 3600), true);
    assert.equal(keepaliveAllowed(10, 10, 10), true);
    assert.equal(keepaliveAllowed(9, 10, 3600), false);
    assert.equal(keepaliveAllowed(3601, 10, 3600), false);
  });
});
