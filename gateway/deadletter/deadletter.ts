// The dead-letter path: a message that cannot become a record of its route, or a record Kafka
// refused for good, becomes a DeadLetter record (schemas/deadletter.avsc) with the raw payload
// and a reason, produced to the dead-letter topic like any other record. Nothing is dropped
// silently.
import { fileURLToPath } from 'node:url';
import { type LoadedSchema, loadSchema } from '../codec/avro.ts';
import type { DeadLetterReason, OutboundRecord } from '../contracts.ts';

export const DEADLETTER_SCHEMA_PATH = fileURLToPath(
  new URL('../../schemas/deadletter.avsc', import.meta.url),
);

export interface DeadLetterInput {
  readonly reason: DeadLetterReason;
  readonly detail: string;
  readonly mqttTopic: string;
  readonly clientId: string;
  readonly qos: number;
  readonly route: string | null;
  readonly payload: Buffer;
  readonly receivedAt: number;
}

export class DeadLetterEncoder {
  readonly topic: string;
  readonly #schema: LoadedSchema;
  readonly #gatewayId: string;
  readonly #fixedHeaders: Record<string, Buffer>;

  constructor(topic: string, gatewayId: string) {
    this.topic = topic;
    this.#schema = loadSchema(DEADLETTER_SCHEMA_PATH);
    this.#gatewayId = gatewayId;
    this.#fixedHeaders = {
      'weir-gateway-id': Buffer.from(gatewayId),
      'avro-schema-fingerprint': Buffer.from(this.#schema.fingerprint),
    };
  }

  /**
   * The dead-letter schema: its file, and the SHA-256 of its canonical form, hex (the
   * `avro-schema-fingerprint` of dead letters).
   */
  get schema(): { readonly file: string; readonly fingerprint: string } {
    return { file: DEADLETTER_SCHEMA_PATH, fingerprint: this.#schema.fingerprint };
  }

  encode(input: DeadLetterInput): OutboundRecord {
    const value = this.#schema.type.toBuffer({ ...input, gatewayId: this.#gatewayId });
    return {
      key: Buffer.from(input.clientId),
      value,
      headers: {
        ...this.#fixedHeaders,
        'mqtt-topic': Buffer.from(input.mqttTopic),
        'weir-deadletter-reason': Buffer.from(input.reason),
      },
      timestamp: input.receivedAt,
    };
  }

  /**
   * The dead letter of a record Kafka refused for good (kafka_rejected): its payload is the Avro
   * value Kafka refused; the client, QoS and route are those of the message it was made from.
   */
  kafkaRejected(topic: string, record: OutboundRecord, reason: string): OutboundRecord {
    // weir sets this header itself, with one value (a device's property of that name is renamed).
    const mqttTopic = record.headers['mqtt-topic'];
    return this.encode({
      reason: 'kafka_rejected',
      detail: `Kafka refused the record for topic ${topic}: ${reason}`,
      mqttTopic: Buffer.isBuffer(mqttTopic) ? mqttTopic.toString() : '',
      clientId: record.origin?.clientId ?? '',
      qos: record.origin?.qos ?? 1,
      route: record.origin?.route ?? null,
      payload: record.value,
      receivedAt: record.timestamp,
    });
  }
}
