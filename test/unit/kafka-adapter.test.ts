// The skeleton every Kafka client adapter shares (gateway/sinks/kafka/adapter.ts), against a
// scripted client: one connect however many callers, recovery after a failed connect, close
// while connecting, a call refused for good sent again one batch at a time, a spoiled producer
// replaced, the probe, topic creation. The real clients pass the same against Kafka in
// test/integration/sink-contract.test.ts and sink-recovery.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { Batch, BatchOutcome } from '../../gateway/contracts.ts';
import { KafkaAdapter, type TopicAdmin } from '../../gateway/sinks/kafka/adapter.ts';
import type { KafkaAdapterOptions } from '../../gateway/sinks/kafka/options.ts';

interface FakeProducer {
  readonly id: number;
  closed: boolean;
}

type Produce = (producer: FakeProducer, batches: readonly Batch[]) => Promise<(Error | null)[]>;

const delivered: Produce = async (_, batches) => batches.map(() => null);

/** A client whose open / produce / probe answers are scripted by the test. */
class Scripted extends KafkaAdapter<FakeProducer> {
  readonly name = 'scripted';
  readonly producers: FakeProducer[] = [];
  /** Topics of each produce call, with the producer it went to. */
  readonly calls: { producer: number; topics: string[] }[] = [];
  asks = 0;
  /** Runs at each open() before the producer exists; throwing fails the open. */
  opening: () => Promise<void> = async () => {};
  producing: Produce = delivered;
  admin: TopicAdmin | null = null;

  protected override async open(): Promise<FakeProducer> {
    const producer = { id: this.producers.length + 1, closed: false };
    this.producers.push(producer);
    await this.opening();
    const admin = this.admin;
    if (admin !== null) await this.createMissingTopics(async () => admin);
    return producer;
  }

  protected override produce(producer: FakeProducer, batches: readonly Batch[]): Promise<(Error | null)[]> {
    this.calls.push({ producer: producer.id, topics: batches.map((b) => b.topic) });
    return this.producing(producer, batches);
  }

  protected override async ask(): Promise<void> {
    this.asks++;
  }

  protected override async closeProducer(producer: FakeProducer): Promise<void> {
    producer.closed = true;
  }

  /** What a client does on a fatal error event. */
  reportFatal(): void {
    this.spoil();
  }
}

function options(o: Partial<KafkaAdapterOptions> = {}): KafkaAdapterOptions {
  return {
    brokers: ['127.0.0.1:9092'],
    clientId: 'weir-test',
    compression: 'none',
    requestTimeoutMs: 1_000,
    connectionTimeoutMs: 1_000,
    createTopics: [],
    partitions: 3,
    replicationFactor: 'auto',
    minInsyncReplicas: 'auto',
    log: pino({ level: 'silent' }),
    ...o,
  };
}

function batch(topic: string): Batch {
  return { topic, records: [{ key: null, value: Buffer.from('v'), headers: {}, timestamp: 0 }], bytes: 1 };
}

function kafkaError(type: string): Error {
  return Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type });
}

function statuses(outcomes: readonly BatchOutcome[]): string[] {
  return outcomes.map((o) => (o.status === 'rejected' ? `rejected:${o.reason}` : o.status));
}

const code = (want: string) => (err: Error & { code?: unknown }) => err.code === want;

describe('connect', () => {
  test('callers at the same time share one connect; once connected, connect does nothing', async () => {
    const sink = new Scripted(options());
    await Promise.all([sink.connect(), sink.connect(), sink.probe(), sink.send([batch('a')])]);
    await sink.connect();
    assert.equal(sink.producers.length, 1);
  });

  test('after a failed connect, the next send connects again and delivers', async () => {
    const sink = new Scripted(options());
    sink.opening = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    await assert.rejects(sink.connect(), /ECONNREFUSED/);
    const down = await sink.send([batch('a')]);
    assert.deepEqual(statuses(down), ['retry']);
    assert.match(down[0]!.status === 'retry' ? down[0]!.error.message : '', /ECONNREFUSED/);
    sink.opening = async () => {};
    assert.deepEqual(statuses(await sink.send([batch('a')])), ['ok']);
    assert.equal(sink.producers.length, 3);
    assert.deepEqual(sink.calls, [{ producer: 3, topics: ['a'] }]);
  });

  test('a refused login is WEIR_KAFKA_AUTH, and a send meanwhile is retry with it', async () => {
    const sink = new Scripted(options());
    sink.opening = async () => {
      throw Object.assign(new Error('SASL PLAIN authentication failed'), {
        name: 'KafkaJSSASLAuthenticationError',
      });
    };
    await assert.rejects(sink.connect(), code('WEIR_KAFKA_AUTH'));
    const [outcome] = await sink.send([batch('a')]);
    assert.equal(outcome!.status, 'retry');
    assert.equal(
      outcome!.status === 'retry' && (outcome!.error as Error & { code?: string }).code,
      'WEIR_KAFKA_AUTH',
    );
  });

  test('close() while connecting: connect rejects, the new producer is closed, nothing connects after', async () => {
    const sink = new Scripted(options());
    let open = () => {};
    sink.opening = () =>
      new Promise<void>((resolve) => {
        open = resolve;
      });
    const connecting = sink.connect();
    await Promise.resolve();
    await sink.close();
    open();
    await assert.rejects(connecting, code('WEIR_KAFKA_CLOSED'));
    assert.equal(sink.producers[0]!.closed, true);
    assert.deepEqual(statuses(await sink.send([batch('a')])), ['retry']);
    await assert.rejects(sink.probe(), code('WEIR_KAFKA_CLOSED'));
    assert.equal(sink.producers.length, 1);
  });
});

describe('send', () => {
  test('refused for good as a whole: sent again one batch at a time, only the refused one rejected', async () => {
    const sink = new Scripted(options());
    sink.producing = async (_, batches) => {
      if (batches.some((b) => b.topic === 'small')) throw kafkaError('MESSAGE_TOO_LARGE');
      return batches.map(() => null);
    };
    const outcomes = await sink.send([batch('a'), batch('small'), batch('b')]);
    assert.deepEqual(statuses(outcomes), ['ok', 'rejected:message_too_large', 'ok']);
    assert.deepEqual(
      sink.calls.map((c) => c.topics),
      [['a', 'small', 'b'], ['a'], ['small'], ['b']],
    );
  });

  test('answered per batch: each batch its own outcome, nothing sent again', async () => {
    const sink = new Scripted(options());
    sink.producing = async () => [null, kafkaError('INVALID_RECORD'), kafkaError('NOT_ENOUGH_REPLICAS')];
    const outcomes = await sink.send([batch('a'), batch('b'), batch('c')]);
    assert.deepEqual(statuses(outcomes), ['ok', 'rejected:invalid_record', 'retry']);
    assert.equal(sink.calls.length, 1);
  });

  test('a spoiled producer id: the producer is closed at once, the next send opens a new one', async () => {
    const sink = new Scripted(options());
    sink.producing = async () => {
      throw kafkaError('UNKNOWN_PRODUCER_ID');
    };
    assert.deepEqual(statuses(await sink.send([batch('a'), batch('b')])), ['retry', 'retry']);
    assert.equal(sink.producers[0]!.closed, true);
    sink.producing = delivered;
    assert.deepEqual(statuses(await sink.send([batch('a')])), ['ok']);
    assert.deepEqual(
      sink.calls.map((c) => c.producer),
      [1, 2],
    );
  });

  test('a producer reported spoiled outside a call is replaced before the next send', async () => {
    const sink = new Scripted(options());
    await sink.connect();
    sink.reportFatal();
    assert.equal(sink.producers[0]!.closed, false, 'nothing happens before the next send');
    assert.deepEqual(statuses(await sink.send([batch('a')])), ['ok']);
    assert.equal(sink.producers[0]!.closed, true);
    assert.deepEqual(sink.calls, [{ producer: 2, topics: ['a'] }]);
  });
});

describe('probe and close', () => {
  test('probe connects first when there is no producer, then asks', async () => {
    const sink = new Scripted(options());
    await sink.probe();
    assert.equal(sink.producers.length, 1);
    assert.equal(sink.asks, 1);
  });

  test('probe rejects without asking when the connect fails', async () => {
    const sink = new Scripted(options());
    sink.opening = async () => {
      throw new Error('unreachable');
    };
    await assert.rejects(sink.probe(), /unreachable/);
    assert.equal(sink.asks, 0);
  });

  test('close closes the producer; afterwards sends are retry and nothing connects', async () => {
    const sink = new Scripted(options());
    await sink.connect();
    await sink.close();
    assert.equal(sink.producers[0]!.closed, true);
    assert.deepEqual(statuses(await sink.send([batch('a')])), ['retry']);
    await assert.rejects(sink.connect(), code('WEIR_KAFKA_CLOSED'));
    assert.equal(sink.producers.length, 1);
  });
});

describe('topics', () => {
  /** An admin over a cluster of `brokers` that has `existing` topics (null: cannot list them). */
  function admin(brokers: number, existing: string[] | null) {
    const created: { topics: readonly string[]; partitions: number; replication: number; configs: object }[] =
      [];
    let closed = 0;
    const a: TopicAdmin = {
      existing: async () => existing,
      brokerCount: async () => brokers,
      create: async (topics, partitions, settings) => {
        created.push({
          topics,
          partitions,
          replication: settings.replicationFactor,
          configs: settings.configs,
        });
        return topics.filter((t) => !(existing ?? []).includes(t));
      },
      close: async () => {
        closed++;
      },
    };
    return { a, created, closed: () => closed };
  }

  test('only missing topics are created, with the replication the cluster calls for; the admin is closed', async () => {
    const sink = new Scripted(options({ createTopics: ['a', 'b', 'c'] }));
    const { a, created, closed } = admin(3, ['a']);
    sink.admin = a;
    await sink.connect();
    assert.deepEqual(created, [
      { topics: ['b', 'c'], partitions: 3, replication: 3, configs: { 'min.insync.replicas': '2' } },
    ]);
    assert.equal(closed(), 1);
  });

  test('nothing missing: nothing created; a client that cannot list asks for every topic', async () => {
    const all = new Scripted(options({ createTopics: ['a'] }));
    const existing = admin(1, ['a']);
    all.admin = existing.a;
    await all.connect();
    assert.deepEqual(existing.created, []);

    const blind = new Scripted(options({ createTopics: ['a', 'b'] }));
    const unlisted = admin(1, null);
    blind.admin = unlisted.a;
    await blind.connect();
    assert.deepEqual(
      unlisted.created.map((c) => [c.topics, c.replication]),
      [[['a', 'b'], 1]],
    );
  });

  test('no topics to create: no admin connection; a failed creation fails the connect, admin closed', async () => {
    const none = new Scripted(options());
    none.admin = {
      existing: () => assert.fail('no admin call expected'),
      brokerCount: () => assert.fail('no admin call expected'),
      create: () => assert.fail('no admin call expected'),
      close: () => assert.fail('no admin call expected'),
    };
    await none.connect();

    const failing = new Scripted(options({ createTopics: ['a'] }));
    const { a, closed } = admin(1, []);
    failing.admin = {
      ...a,
      create: async () => {
        throw kafkaError('POLICY_VIOLATION');
      },
    };
    await assert.rejects(failing.connect(), /POLICY_VIOLATION/);
    assert.equal(closed(), 1);
  });
});
