// `npm run fuzz`: the fuzz scenario at full size — 1,000,000 hostile MQTT packets (WEIR_FUZZ_PACKETS)
// over 64 concurrent connections, honest devices publishing meanwhile. Run through the test
// runner with test/global-setup.ts, which starts the real Kafka. WEIR_FUZZ_SEED=N replays a run.
import { test } from 'node:test';
import { fuzzSeed, fuzzWeir } from './scenario.ts';

const MiB = 1024 * 1024;

test('1,000,000 hostile MQTT packets', { timeout: 3_600_000 }, async (t) => {
  await fuzzWeir(t, {
    packets: Number(process.env.WEIR_FUZZ_PACKETS ?? 1_000_000),
    seed: fuzzSeed(),
    concurrency: 64,
    maxMs: 3_000_000,
    rssBoundBytes: 450 * MiB,
    honestDevices: 10,
  });
});
