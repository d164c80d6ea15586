// The verdict of a verify run and the sentences that explain it. Failing: an acknowledged message
// missing, a record that differs from what the device sent, a malformed message the gateway
// acknowledged but did not dead-letter. Incomplete: a failure while the read did not reach the
// end offsets (the missing records may simply not have been read).
import type { FleetResult } from './analysis.ts';
import type { Tally } from './tally.ts';

export type Verdict = 'pass' | 'fail' | 'incomplete';

export interface DeadLetterCheck {
  readonly topic: string;
  readonly expected: number;
  readonly found: number;
}

export function judge(
  fleets: readonly FleetResult[],
  deadLetters: DeadLetterCheck | null,
  complete: boolean,
  tally: Tally,
  valuesChecked: boolean,
  qos: number,
): { verdict: Verdict; reasons: string[] } {
  const reasons: string[] = [];
  const lost = fleets.reduce((s, f) => s + f.lost, 0);
  const corrupted = fleets.reduce((s, f) => s + f.corrupted, 0);
  const missingTopics = fleets.filter((f) => f.timestampType === null && f.acked > 0);
  for (const f of missingTopics) reasons.push(`topic ${f.topic} (${f.fleet}) does not exist`);
  if (lost > 0)
    reasons.push(`${lost} acknowledged message${lost === 1 ? ' is' : 's are'} missing from Kafka`);
  if (corrupted > 0)
    reasons.push(`${corrupted} record${corrupted === 1 ? ' differs' : 's differ'} from what the device sent`);
  const deadMissing = deadLetters !== null && deadLetters.found < deadLetters.expected;
  if (deadLetters !== null && deadMissing) {
    reasons.push(
      `${deadLetters.expected - deadLetters.found} acknowledged malformed message(s) are missing from ${deadLetters.topic}`,
    );
  }
  if (tally.undecodable > 0)
    reasons.push(`${tally.undecodable} record(s) could not be decoded with a known schema`);
  const failing = lost > 0 || corrupted > 0 || deadMissing;
  if (failing && !complete) {
    reasons.push('reading stopped at the time limit before the end offsets: the result is incomplete');
    return { verdict: 'incomplete', reasons };
  }
  if (failing) return { verdict: 'fail', reasons };
  const intact = valuesChecked ? ', with the values the device sent' : '';
  if (qos === 0) {
    const sent = fleets.reduce((s, f) => s + f.sent, 0);
    const received = fleets.reduce((s, f) => s + f.received, 0);
    reasons.push(`QoS 0, nothing was acknowledged: ${received} of ${sent} readings are in Kafka${intact}`);
  } else reasons.push(`every acknowledged message is in Kafka${intact}`);
  return { verdict: 'pass', reasons };
}
