// A CI-sized fuzz run (test/fuzz/): 30,000 hostile MQTT packets over 32 concurrent connections
// against weir as a child process, honest devices publishing meanwhile. `npm run fuzz` runs the
// same scenario with 1,000,000 packets. A failure prints the seed; WEIR_FUZZ_SEED=N replays it.
import { test } from 'node:test';
import { fuzzSeed, fuzzWeir } from '../fuzz/scenario.ts';

const MiB = 1024 * 1024;

test('hostile MQTT traffic never takes weir down, and honest devices lose nothing', {
  timeout: 120_000,
}, async (t) => {
  await fuzzWeir(t, {
    packets: Number(process.env.WEIR_FUZZ_PACKETS ?? 30_000),
    seed: fuzzSeed(),
    concurrency: 32,
    maxMs: 60_000,
    rssBoundBytes: 300 * MiB,
    honestDevices: 5,
  });
});
