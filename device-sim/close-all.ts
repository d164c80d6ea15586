// Disconnecting every device at the end of a run: a bounded number at a time, within a time
// limit; whatever is left then is closed without waiting.
import type { SimDevice } from './device.ts';

const CLOSE_CONCURRENCY = 500;
const CLOSE_TIMEOUT_MS = 10_000;

export async function closeAll(devices: readonly SimDevice[]): Promise<void> {
  let next = 0;
  let timedOut = false;
  const worker = async () => {
    while (next < devices.length && !timedOut) await devices[next++]!.close();
  };
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(Array.from({ length: Math.min(CLOSE_CONCURRENCY, devices.length) }, worker)),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, CLOSE_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  for (const d of devices) if (d.status !== 'closed') d.destroy();
}
