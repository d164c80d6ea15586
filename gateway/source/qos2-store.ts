// aedes 1.x keeps every inbound QoS 2 PUBLISH in its persistence until the device sends PUBREL,
// to recognise retransmissions; only the packet's presence is ever read back (handlers/publish.js,
// handlers/pubrel.js). It stores the whole packet, though, and the payload is a slice of the
// socket read, so each stored message keeps that whole read (up to 64 KiB) alive: a device that
// sends 1000 QoS 2 messages and never PUBREL (aedes' in-flight cap) would hold 64 MiB. weir has
// spooled the message before it is stored, so the store keeps it without its payload.
import type { Aedes } from 'aedes';

interface Qos2Persistence {
  incomingStorePacket(client: unknown, packet: { payload?: unknown }): Promise<void>;
}

const EMPTY = Buffer.alloc(0);

export function storeQos2WithoutPayload(broker: Aedes): void {
  const persistence = (broker as unknown as { persistence: Qos2Persistence }).persistence;
  const store = persistence.incomingStorePacket;
  if (typeof store !== 'function') {
    throw new Error('aedes internals changed: no incomingStorePacket (check the aedes version)');
  }
  persistence.incomingStorePacket = function (client, packet) {
    return store.call(this, client, { ...packet, payload: EMPTY });
  };
}
