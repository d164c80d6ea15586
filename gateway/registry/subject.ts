// Subject naming strategies: under which registry subject a topic's value schema is registered
// and checked. The names and results are Confluent's (io.confluent.kafka.serializers.subject.*),
// so consumers configured with the same strategy find the same subject.
//
//   TopicName        <topic>-value                one schema (and its versions) per topic
//   RecordName       <record full name>           one per record type, whatever the topic
//   TopicRecordName  <topic>-<record full name>   one per record type and topic
//
// weir's Kafka keys are plain device ids, not Avro, so only value subjects exist.
import { WeirError } from '../errors.ts';

export const SUBJECT_NAME_STRATEGIES = ['TopicName', 'RecordName', 'TopicRecordName'] as const;
export type SubjectNameStrategy = (typeof SUBJECT_NAME_STRATEGIES)[number];

/** The registry subject of `topic`'s values, whose schema is the record `recordFullName`. */
export function subjectName(strategy: SubjectNameStrategy, topic: string, recordFullName: string): string {
  if (strategy !== 'RecordName' && topic === '') {
    throw new WeirError('WEIR_REGISTRY_SUBJECT_INVALID', `the ${strategy} strategy needs a topic`);
  }
  if (strategy !== 'TopicName' && recordFullName === '') {
    throw new WeirError('WEIR_REGISTRY_SUBJECT_INVALID', `the ${strategy} strategy needs a record name`);
  }
  switch (strategy) {
    case 'TopicName':
      return `${topic}-value`;
    case 'RecordName':
      return recordFullName;
    case 'TopicRecordName':
      return `${topic}-${recordFullName}`;
    default:
      throw new WeirError(
        'WEIR_REGISTRY_SUBJECT_INVALID',
        `unknown subject name strategy '${String(strategy)}'`,
      );
  }
}

/**
 * The full name of the record an Avro schema (parsed JSON) defines, as the Avro specification
 * makes it: a name with a dot is already full; otherwise the namespace, if any, is put before it.
 */
export function avroFullName(schema: unknown): string {
  const s = schema as { type?: unknown; name?: unknown; namespace?: unknown } | null;
  if (s === null || typeof s !== 'object' || typeof s.name !== 'string' || s.name === '') {
    throw new WeirError('WEIR_REGISTRY_SUBJECT_INVALID', 'the schema has no name (is it a named Avro type?)');
  }
  if (s.name.includes('.')) return s.name;
  return typeof s.namespace === 'string' && s.namespace !== '' ? `${s.namespace}.${s.name}` : s.name;
}
