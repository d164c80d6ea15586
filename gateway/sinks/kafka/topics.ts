// Replication of the topics weir creates, the same for every client library: `auto` follows the
// size of the cluster weir connects to, so one config fits a single development broker and a
// production cluster alike.

/** A replication factor or min.insync.replicas as configured: a number, -1 (broker default) or auto. */
export type ReplicationSetting = number | 'auto';

export interface TopicSettings {
  /** For CreateTopics: -1 lets the broker apply its default.replication.factor. */
  readonly replicationFactor: number;
  /** Topic configs to set at creation (min.insync.replicas when weir chooses it). */
  readonly configs: Readonly<Record<string, string>>;
}

/**
 * What to create topics with on a cluster of `brokerCount` brokers. auto replication: 3 on three or
 * more brokers, else one per broker; auto min.insync.replicas: 2 from replication factor 3 up, else
 * 1 — so that one broker down loses nothing and nothing is acknowledged by a single replica. With
 * the broker's replication default (-1) and an auto min.insync.replicas, the broker's own
 * min.insync.replicas applies too.
 */
export function topicSettings(
  brokerCount: number,
  replicationFactor: ReplicationSetting,
  minInsyncReplicas: ReplicationSetting,
): TopicSettings {
  const rf = replicationFactor === 'auto' ? Math.max(1, Math.min(3, brokerCount)) : replicationFactor;
  let minIsr: number | null;
  if (minInsyncReplicas === 'auto') minIsr = rf === -1 ? null : rf >= 3 ? 2 : 1;
  else minIsr = minInsyncReplicas === -1 ? null : minInsyncReplicas;
  return {
    replicationFactor: rf,
    configs: minIsr === null ? {} : { 'min.insync.replicas': String(minIsr) },
  };
}
