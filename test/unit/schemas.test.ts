// The schemas in schemas/: documented (every field has a doc, units in names or docs), with the
// common fields, and backward compatible across every released version — the newest schema reads
// data written with each older one (avsc's resolver, the Avro specification's rules).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { renderSchemaDocs } from '../../tools/schemas/docs.ts';
import {
  backwardIncompatibility,
  parseSchema,
  readSchemaJson,
  SCHEMAS_DIR,
  schemaHistory,
  schemaNames,
  withoutDocs,
} from '../../tools/schemas/history.ts';

interface FieldJson {
  name: string;
  type: unknown;
  doc?: string;
  default?: unknown;
}
interface RecordJson {
  type: string;
  name: string;
  namespace?: string;
  doc?: string;
  fields: FieldJson[];
}

const DEVICE_SCHEMAS = ['smart-city', 'factory-line', 'vehicle-gps'];
const current = (name: string) => readSchemaJson(path.join(SCHEMAS_DIR, `${name}.avsc`)) as RecordJson;

/** Unit suffixes used in field names: speedKmh, temperatureC, pm25UgM3, … */
const UNIT_SUFFIX = /(Kmh|C|Pct|Deg|Km|Rpm|MmS|UgM3|Dba|Wh|Kw|S|M)$/;

function baseType(type: unknown): unknown {
  if (Array.isArray(type)) return baseType(type.find((t) => t !== 'null'));
  return type;
}

describe('schemas', () => {
  test('every schema is a namespaced record whose fields all have a doc', () => {
    assert.deepEqual(schemaNames(), ['deadletter', 'factory-line', 'smart-city', 'vehicle-gps']);
    for (const name of schemaNames()) {
      const s = current(name);
      assert.equal(s.type, 'record', name);
      assert.match(s.namespace ?? '', /^weir\./, `${name} has a weir.* namespace`);
      assert.ok((s.doc ?? '').length > 20, `${name} has a doc`);
      for (const f of s.fields) assert.ok((f.doc ?? '').length > 10, `${name}.${f.name} has a doc`);
    }
  });

  test('device schemas have the common fields and a unit for every number', () => {
    for (const name of DEVICE_SCHEMAS) {
      const s = current(name);
      const field = (n: string) => s.fields.find((f) => f.name === n);
      assert.equal(field('deviceId')?.type, 'string', `${name}.deviceId`);
      assert.deepEqual(field('seq')?.type, ['null', 'long'], `${name}.seq`);
      for (const t of ['ts', 'receivedAt']) {
        assert.deepEqual(field(t)?.type, { type: 'long', logicalType: 'timestamp-millis' }, `${name}.${t}`);
      }
      for (const f of s.fields) {
        const t = baseType(f.type);
        if (!['int', 'long', 'float', 'double'].includes(t as string)) continue;
        const counted = /\bcount\b|sequence number/i.test(f.doc ?? '');
        assert.ok(UNIT_SUFFIX.test(f.name) || counted, `${name}.${f.name}: a unit in the name, or a count`);
      }
    }
  });

  test('each schema has a history whose newest version is the current schema', () => {
    for (const name of schemaNames()) {
      const versions = schemaHistory(name);
      assert.ok(versions.length > 0, `schemas/history/${name}/v1.avsc exists`);
      assert.deepEqual(
        versions.map((v) => v.version),
        versions.map((_, i) => i + 1),
        `${name}: versions v1…vN without gaps`,
      );
      assert.deepEqual(
        withoutDocs(versions[versions.length - 1]!.json),
        withoutDocs(current(name)),
        `schemas/${name}.avsc changed: copy it to schemas/history/${name}/v${versions.length + 1}.avsc ` +
          '(the compatibility test then checks it against every earlier version)',
      );
    }
  });

  test('every version reads data written with every earlier version', () => {
    for (const name of schemaNames()) {
      const versions = schemaHistory(name).map((v) => ({ ...v, type: parseSchema(v.json) }));
      for (let r = 0; r < versions.length; r++) {
        for (let w = 0; w < r; w++) {
          const reader = versions[r]!;
          const writer = versions[w]!;
          const why = backwardIncompatibility(reader.type, writer.type);
          assert.equal(why, null, `${name} v${reader.version} cannot read v${writer.version}: ${why}`);
          const resolver = reader.type.createResolver(writer.type);
          const readerFields = (reader.json as RecordJson).fields;
          const writerNames = new Set((writer.json as RecordJson).fields.map((f) => f.name));
          for (let i = 0; i < 50; i++) {
            const written = writer.type.random() as unknown as Record<string, unknown>;
            const read = reader.type.fromBuffer(writer.type.toBuffer(written), resolver) as Record<
              string,
              unknown
            >;
            for (const f of readerFields) {
              const want = writerNames.has(f.name) ? written[f.name] : f.default;
              assert.deepEqual(read[f.name], want, `${name} v${writer.version}→v${reader.version} ${f.name}`);
            }
          }
        }
      }
    }
  });

  test('the check catches incompatible changes', () => {
    const v1 = parseSchema({
      type: 'record',
      name: 'R',
      namespace: 'weir.test',
      fields: [
        { name: 'a', type: 'double' },
        { name: 'state', type: { type: 'enum', name: 'S', symbols: ['on', 'off'] } },
      ],
    });
    const changed = (fields: unknown[]) =>
      parseSchema({ type: 'record', name: 'R', namespace: 'weir.test', fields });
    const state = { name: 'state', type: { type: 'enum', name: 'S', symbols: ['on', 'off'] } };
    assert.notEqual(
      backwardIncompatibility(
        changed([{ name: 'a', type: 'double' }, state, { name: 'b', type: 'double' }]),
        v1,
      ),
      null,
      'a new field without a default',
    );
    assert.notEqual(
      backwardIncompatibility(changed([{ name: 'a', type: 'string' }, state]), v1),
      null,
      'a changed type',
    );
    assert.notEqual(
      backwardIncompatibility(
        changed([
          { name: 'a', type: 'double' },
          { name: 'state', type: { type: 'enum', name: 'S', symbols: ['on'] } },
        ]),
        v1,
      ),
      null,
      'an enum symbol removed without a default',
    );
    assert.equal(
      backwardIncompatibility(
        changed([
          { name: 'a', type: 'double' },
          state,
          { name: 'b', type: ['null', 'double'], default: null },
        ]),
        v1,
      ),
      null,
      'a new field with a default is fine',
    );
  });

  test('schemas/README.md is generated from the schemas', () => {
    const readme = readFileSync(path.join(SCHEMAS_DIR, 'README.md'), 'utf8');
    assert.equal(
      readme,
      renderSchemaDocs(),
      'schemas/README.md is stale: run `node tools/update-schema-docs.ts`',
    );
  });
});
