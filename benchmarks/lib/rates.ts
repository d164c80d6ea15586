// Reading a run's figures out of the read-back check.
import type { GroupResult } from './check.ts';

/** Records per second that reached Kafka: first copies ÷ (last append − the group's start). */
export function kafkaRate(g: GroupResult, startedAtMs: number): number {
  if (g.lastAppendMs === null) return 0;
  return Math.round(g.received / Math.max(0.001, (g.lastAppendMs - startedAtMs) / 1000));
}

/** Mean appends per second over whole seconds [from, to). */
export function steadyRate(perSecond: readonly number[], from: number, to: number): number {
  const window = perSecond.slice(from, Math.max(from + 1, to));
  return window.length === 0 ? 0 : Math.round(window.reduce((a, b) => a + b, 0) / window.length);
}
