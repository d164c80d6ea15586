// Regression: mqtt-packet's cache of encoded remaining lengths pinned one 8 KiB buffer-pool slab
// per cached length, so a gateway writing packets of many lengths (deliveries to subscribers) grew
// its RSS by up to 128 MiB (found by the fuzz run, with aedes). The device front end encodes
// deliveries itself (front-end/subscribers.ts): writing every length pins nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { publishPacket } from '../../gateway/source/front-end/subscribers.ts';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** Full collections until freed buffers are swept (that part runs in the background). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('writing deliveries of every length keeps no buffer memory', async () => {
  const written: Buffer[] = [];
  const payload = Buffer.alloc(16_384);
  await settle();
  const before = process.memoryUsage().arrayBuffers;
  let churn = 0;
  for (let length = 3; length < 16_384; length++) {
    // Other small allocations share the pool, as socket writes do in the gateway: each slab then
    // holds at most two of them, so every cached length would pin a slab of its own.
    churn += Buffer.allocUnsafe(4000).length;
    // Written and let go, as a socket does once the bytes are sent.
    written.push(publishPacket('a', payload.subarray(0, length - 3), length % 2 === 0));
    written.length = 0;
  }
  await settle();
  const grownMiB = (process.memoryUsage().arrayBuffers - before) / 1024 / 1024;
  assert.ok(churn > 0);
  assert.ok(grownMiB < 4, `buffer memory grew by ${grownMiB.toFixed(1)} MiB`);
});
