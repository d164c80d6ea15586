// Every fleet's payloads become records of its route in the gateway — routed and decoded by the
// gateway's own code with the sample config — and keep every value the device sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FLEET_NAMES } from '../../device-sim/fleets/fleet.ts';
import { FLEETS } from '../../device-sim/fleets/index.ts';
import { DEFAULT_CENTER } from '../../device-sim/options.ts';
import { INVALID_KINDS, invalidPayload, oversizePayload, readingPayload } from '../../device-sim/payloads.ts';
import { planDevices } from '../../device-sim/plan.ts';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { loadConfigFile } from '../../gateway/config/load.ts';
import { compileRoutes } from '../../gateway/intake/routes.ts';
import { Router } from '../../gateway/router/router.ts';

const example = fileURLToPath(new URL('../../deploy/weir.example.yaml', import.meta.url));
const loaded = loadConfigFile(example);
const routes = compileRoutes(loaded);
const router = new Router(routes);
/** The route's Avro type, by route name. */
const typeOf = new Map(routes.map((r, i) => [r.name, loadSchema(loaded.schemaPaths[i]!).type]));

const devices = planDevices({
  seed: 99,
  modelStartMs: Date.parse('2026-03-10T06:00:00Z'),
  timeWarp: 60,
  center: DEFAULT_CENTER,
  rates: { 'smart-city': 1, 'factory-line': 5, 'vehicle-gps': 1 },
  mix: { 'smart-city': 1, 'factory-line': 1, 'vehicle-gps': 1 },
  devices: 60,
  idPrefix: 'simtest',
});

test('readings of every fleet fit their route and schema, values intact', () => {
  const seen = new Set<string>();
  for (const d of devices) {
    const match = router.match(d.model.topic);
    assert.ok(match, `a route for ${d.model.topic}`);
    assert.equal(match.route.name, d.fleet, 'the sample config names routes after the fleets');
    assert.equal(match.segments[match.route.keySegment], d.deviceId, 'the device id is the Kafka key');
    seen.add(d.fleet);
    for (let seq = 1; seq <= 200; seq++) {
      const fields = d.model.next();
      const ts = 1_800_000_000_000 + seq * 1000;
      const decoded = match.route.decoder.decode(readingPayload(seq, ts, fields), match.segments, ts + 5);
      assert.ok(decoded.ok, `${d.fleet} seq ${seq}: ${decoded.ok ? '' : decoded.detail}`);
      const record = typeOf.get(match.route.name)!.fromBuffer(decoded.value) as Record<string, unknown>;
      assert.equal(record.seq, seq);
      assert.equal(record.ts, ts);
      assert.equal(record.deviceId, d.deviceId);
      for (const [k, v] of Object.entries(fields))
        assert.deepEqual(record[k] ?? null, v ?? null, `${d.fleet}.${k}`);
    }
  }
  assert.deepEqual([...seen].sort(), [...FLEET_NAMES].sort());
});

test('malformed payloads are dead letters of the expected kind; oversize ones are valid JSON', () => {
  for (const fleet of FLEET_NAMES) {
    const d = devices.find((x) => x.fleet === fleet)!;
    const match = router.match(d.model.topic)!;
    for (const kind of INVALID_KINDS) {
      const decoded = match.route.decoder.decode(invalidPayload(FLEETS[fleet], kind, 1), match.segments, 2);
      assert.equal(decoded.ok, false, `${fleet} ${kind} is rejected`);
      const want = kind === 'truncated-json' || kind === 'not-utf8' ? 'invalid_json' : 'schema_mismatch';
      assert.equal(decoded.ok ? '' : decoded.reason, want, `${fleet} ${kind}`);
    }
  }
  const big = oversizePayload(1, 300_000);
  assert.ok(Math.abs(big.length - 300_000) < 10);
  assert.deepEqual(Object.keys(JSON.parse(big.toString())), ['ts', 'blob']);
});
