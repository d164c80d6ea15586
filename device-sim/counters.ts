// Run-wide totals, updated by the devices as things happen, read by the status line each second.
export class SimCounters {
  connected = 0;
  everConnected = 0;
  connects = 0;
  connectFailures = 0;
  drops = 0;
  disconnects = 0;
  /** Readings published (seq assigned). */
  sent = 0;
  /** QoS 1/2 readings acknowledged. */
  acked = 0;
  /** Messages of any kind waiting for their acknowledgement (or, QoS 0, for the socket). */
  inflight = 0;
  skipped = 0;
  invalidSent = 0;
  invalidAcked = 0;
  oversizeSent = 0;
  lastError: string | null = null;
}
