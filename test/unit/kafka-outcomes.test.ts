// The outcome policy of the Kafka sinks (gateway/sinks/kafka/outcomes.ts): what a produce call's
// error means for each batch — delivered, rejected for good (with the reason the dead-letter
// record carries) or kept for a retry — whichever client library's error shape carries it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Batch, BatchOutcome } from '../../gateway/contracts.ts';
import { WeirError } from '../../gateway/errors.ts';
import {
  batchOutcome,
  callOutcomes,
  isPermanent,
  PERMANENT_ERRORS,
  PRODUCER_STATE_ERRORS,
  sendOneByOne,
  spoilsProducer,
} from '../../gateway/sinks/kafka/outcomes.ts';

function batch(topic: string): Batch {
  return { topic, records: [{ key: null, value: Buffer.from('v'), headers: {}, timestamp: 0 }], bytes: 1 };
}

/** kafkajs: the protocol error (`type`) inside the error of its retrier. */
function kafkajsError(type: string): Error {
  const protocol = Object.assign(new Error(`protocol error ${type}`), { name: 'KafkaJSProtocolError', type });
  return Object.assign(new Error('retries exhausted', { cause: protocol }), {
    name: 'KafkaJSNumberOfRetriesExceeded',
    originalError: protocol,
  });
}

/** @platformatic/kafka: protocol errors (`apiId`) collected in a PLT_KFK_MULTIPLE aggregate. */
function platformaticError(apiId: string): Error {
  const protocol = Object.assign(new Error(`protocol error ${apiId}`), { code: 'PLT_KFK_PROTOCOL', apiId });
  return Object.assign(new AggregateError([protocol], 'produce failed'), { code: 'PLT_KFK_MULTIPLE' });
}

/** node-rdkafka: librdkafka's numeric code, with the protocol name the adapter adds as `type`. */
function rdkafkaError(type: string): Error {
  return Object.assign(new Error('Broker: refused'), { code: 10, origin: 'kafka', type });
}

const shapes = { kafkajs: kafkajsError, platformatic: platformaticError, rdkafka: rdkafkaError };

function statuses(outcomes: readonly BatchOutcome[]): string[] {
  return outcomes.map((o) => (o.status === 'rejected' ? `rejected:${o.reason}` : o.status));
}

describe('one batch', () => {
  test('no error: ok', () => {
    assert.deepEqual(batchOutcome(null), { status: 'ok' });
  });

  for (const [client, make] of Object.entries(shapes)) {
    test(`${client}: every permanent refusal is rejected, its Kafka name in lower case the reason`, () => {
      for (const type of PERMANENT_ERRORS) {
        const error = make(type);
        const outcome = batchOutcome(error);
        assert.deepEqual(outcome, { status: 'rejected', reason: type.toLowerCase(), error });
        assert.equal(isPermanent(error), true);
      }
    });

    test(`${client}: a refusal that may pass later is retry, with the error`, () => {
      for (const type of [
        'NOT_ENOUGH_REPLICAS',
        'LEADER_NOT_AVAILABLE',
        'REQUEST_TIMED_OUT',
        ...PRODUCER_STATE_ERRORS,
      ]) {
        const error = make(type);
        assert.deepEqual(batchOutcome(error), { status: 'retry', error });
        assert.equal(isPermanent(error), false);
      }
    });
  }

  test("weir's own errors and plain network errors are retry", () => {
    for (const error of [
      new WeirError('WEIR_KAFKA_NOT_CONNECTED', 'Kafka producer not connected'),
      new WeirError('WEIR_KAFKA_TIMEOUT', 'no delivery report in time'),
      new WeirError('WEIR_KAFKA_AUTH', 'Kafka refused the SASL credentials'),
      new WeirError('WEIR_KAFKA_INCOMPLETE', 'sending again'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { code: 'ECONNREFUSED' }),
    ]) {
      assert.deepEqual(batchOutcome(error), { status: 'retry', error });
    }
  });

  test('a `type` that is not a Kafka protocol name decides nothing', () => {
    const error = Object.assign(new Error('odd'), { type: 'message_too_large' });
    assert.equal(batchOutcome(error).status, 'retry');
  });

  test('a permanent refusal wrapped in a WeirError is still found through its cause', () => {
    const error = new WeirError('WEIR_KAFKA_UNREACHABLE', 'send failed', {
      cause: kafkajsError('MESSAGE_TOO_LARGE'),
    });
    assert.deepEqual(statuses([batchOutcome(error)]), ['rejected:message_too_large']);
  });
});

describe('a call of several batches', () => {
  const batches = [batch('a'), batch('b'), batch('a')];

  test('answered per batch (delivery reports): each batch gets its own outcome', () => {
    const errors = [null, rdkafkaError('RECORD_LIST_TOO_LARGE'), new WeirError('WEIR_KAFKA_TIMEOUT', 'late')];
    assert.deepEqual(statuses(errors.map(batchOutcome)), ['ok', 'rejected:record_list_too_large', 'retry']);
  });

  test('failed as a whole, may pass later: every batch retry, with the error', () => {
    const error = platformaticError('NOT_ENOUGH_REPLICAS');
    assert.equal(sendOneByOne(batches, error), false);
    const outcomes = callOutcomes(batches, error);
    assert.deepEqual(statuses(outcomes), ['retry', 'retry', 'retry']);
    for (const o of outcomes) assert.equal(o.status === 'retry' && o.error, error);
  });

  test('refused for good as a whole: which batch is unknown, so they are sent one by one', () => {
    for (const make of Object.values(shapes)) {
      assert.equal(sendOneByOne(batches, make('MESSAGE_TOO_LARGE')), true);
    }
  });

  test('a call of one batch refused for good: that batch is rejected, not sent again', () => {
    const error = kafkajsError('INVALID_RECORD');
    assert.equal(sendOneByOne([batch('a')], error), false);
    assert.deepEqual(statuses(callOutcomes([batch('a')], error)), ['rejected:invalid_record']);
  });
});

describe('the producer', () => {
  test('a spoiled producer id (producer-state errors) needs a new producer; nothing else does', () => {
    for (const make of Object.values(shapes)) {
      for (const type of PRODUCER_STATE_ERRORS) assert.equal(spoilsProducer(make(type)), true, type);
      for (const type of [...PERMANENT_ERRORS, 'NOT_ENOUGH_REPLICAS'])
        assert.equal(spoilsProducer(make(type)), false);
    }
    assert.equal(spoilsProducer(new WeirError('WEIR_KAFKA_TIMEOUT', 'late')), false);
  });
});
