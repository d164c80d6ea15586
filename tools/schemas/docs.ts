// Renders schemas/README.md: every schema's fields with type, unit and meaning, generated from the
// .avsc files so the documentation cannot drift from the schemas. `node tools/update-schema-docs.ts`
// rewrites it; test/unit/schemas.test.ts fails when it is stale.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SCHEMAS_DIR, schemaHistory, schemaNames } from './history.ts';

interface FieldJson {
  name: string;
  type: unknown;
  doc?: string;
  default?: unknown;
}

function typeText(type: unknown): string {
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) {
    const parts = type.map(typeText);
    const nonNull = parts.filter((p) => p !== 'null');
    return parts.includes('null') ? `${nonNull.join(' \\| ')} or null` : parts.join(' \\| ');
  }
  if (type !== null && typeof type === 'object') {
    const t = type as { type: string; logicalType?: string; symbols?: string[]; items?: unknown };
    if (t.logicalType) return `${t.type} (${t.logicalType})`;
    if (t.type === 'enum') return `enum: ${(t.symbols ?? []).join(', ')}`;
    if (t.type === 'array') return `array of ${typeText(t.items)}`;
    return t.type;
  }
  return String(type);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderSchemaDocs(): string {
  const lines = [
    '# Schemas',
    '',
    '<!-- generated from the .avsc files by `node tools/update-schema-docs.ts`; do not edit by hand -->',
    '',
    'One Avro schema per kind of device, plus the dead-letter record. Every field has a doc; units are',
    'in the field name (`speedKmh`, `temperatureC`, `pm25UgM3`) or in its doc. Common fields: `deviceId`',
    "(from the MQTT topic; the Kafka key), `seq` (the device's own sequence number, from 1), `ts` (device",
    'time) and `receivedAt` (set by the gateway). Topic levels named in a route fill the fields of the same',
    'name.',
    '',
    'Changes stay backward compatible: every released version is kept in `history/<name>/vN.avsc` (the',
    'newest equals the schema here), and `test/unit/schemas.test.ts` checks with avsc that each version',
    'reads data written with every earlier one. To change a schema: edit it, copy it to the next',
    '`history/<name>/vN.avsc`, give every new field a default, and run `node tools/update-schema-docs.ts`.',
    '',
  ];
  for (const name of schemaNames()) {
    const file = path.join(SCHEMAS_DIR, `${name}.avsc`);
    const json = JSON.parse(readFileSync(file, 'utf8')) as {
      name: string;
      namespace?: string;
      doc?: string;
      fields: FieldJson[];
    };
    const versions = schemaHistory(name).map((v) => v.version);
    const version = versions.length > 0 ? `v${versions[versions.length - 1]}` : 'unversioned';
    lines.push(
      `## \`${name}.avsc\` — \`${json.namespace ? `${json.namespace}.` : ''}${json.name}\` (${version})`,
      '',
    );
    if (json.doc) lines.push(json.doc, '');
    lines.push('| field | type | default | description |', '| --- | --- | --- | --- |');
    for (const f of json.fields) {
      const dflt = 'default' in f ? `\`${JSON.stringify(f.default)}\`` : '';
      lines.push(`| \`${f.name}\` | ${cell(typeText(f.type))} | ${dflt} | ${cell(f.doc ?? '')} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
