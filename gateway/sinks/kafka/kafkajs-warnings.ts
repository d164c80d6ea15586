import process from 'node:process';

let negativeTimeoutWarningsIgnored = false;

/**
 * kafkajs 2.2.4 calls setTimeout with a negative delay in its request queue
 * (network/requestQueue scheduleCheckPendingRequests); Node 24 reports that as a
 * TimeoutNegativeWarning on stderr. It is harmless (Node uses 1 ms, as older versions did
 * silently). Everything that uses kafkajs (the Kafka sink, the CLI, the test setup and helpers) call this once to
 * keep that one warning out of their output; every other warning still goes through.
 */
export function ignoreKafkajsNegativeTimeoutWarnings(): void {
  if (negativeTimeoutWarningsIgnored) return;
  negativeTimeoutWarningsIgnored = true;
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const first = rest[0];
    const type = typeof first === 'string' ? first : (first as { type?: string } | undefined)?.type;
    if (type === 'TimeoutNegativeWarning') return;
    if (warning instanceof Error && warning.name === 'TimeoutNegativeWarning') return;
    return Reflect.apply(emitWarning, this, [warning, ...rest]);
  } as typeof process.emitWarning;
}
