// Renders the config reference (a Markdown table) from the schema itself, so the documentation
// cannot drift from what the code validates. The README embeds the output between markers;
// a test checks it is current (`node bin/weir.ts config reference` prints it).
import { z } from 'zod';
import { configSchema } from './schema.ts';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  anyOf?: JsonSchema[];
  const?: unknown;
}

export const REFERENCE_BEGIN = '<!-- config-reference:begin (generated from gateway/config/schema.ts) -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

export function configReference(): string {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rows: string[] = ['| key | type | default | description |', '| --- | --- | --- | --- |'];
  walk(root, '', rows, true);
  return rows.join('\n');
}

function walk(node: JsonSchema, prefix: string, rows: string[], required: boolean): void {
  if (node.properties !== undefined && prefix !== '') {
    // A section: its own row only when it has a description.
    if (node.description) rows.push(row(prefix, 'section', '', node.description, required));
  }
  if (node.properties !== undefined) {
    const req = new Set(node.required ?? []);
    for (const [key, child] of Object.entries(node.properties)) {
      walk(
        child,
        prefix === '' ? key : `${prefix}.${key}`,
        rows,
        req.has(key) && child.default === undefined,
      );
    }
    return;
  }
  // A choice between literals and a section (auth: none | {…}): one row, then the section's keys.
  const section = node.anyOf?.find((b) => b.properties !== undefined);
  if (section !== undefined) {
    const literals = node.anyOf!.filter((b) => b !== section).map((b) => `\`${String(b.const ?? b.enum)}\``);
    rows.push(
      row(prefix, [...literals, 'section'].join(' \\| '), node.default, node.description ?? '', required),
    );
    walk({ ...section, description: undefined }, prefix, rows, false);
    return;
  }
  if (node.type === 'array' && node.items?.properties !== undefined) {
    rows.push(row(prefix, 'list', '', node.description ?? '', required));
    walk(node.items, `${prefix}[]`, rows, false);
    return;
  }
  rows.push(row(prefix, typeOf(node), node.default, node.description ?? '', required));
}

function row(key: string, type: string, dflt: unknown, description: string, required: boolean): string {
  const shownDefault = required
    ? '**required**'
    : dflt === undefined || dflt === ''
      ? ''
      : `\`${JSON.stringify(dflt)}\``;
  return `| \`${key}\` | ${type} | ${shownDefault} | ${description.replaceAll('|', '\\|')} |`;
}

function typeOf(node: JsonSchema): string {
  if (node.anyOf !== undefined) return node.anyOf.map(typeOf).join(' \\| ');
  if (node.const !== undefined) return `\`${String(node.const)}\``;
  if (node.enum !== undefined) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'any'}`;
  const t = Array.isArray(node.type) ? node.type.join(' \\| ') : (node.type ?? 'any');
  const bounded = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER;
  const range =
    node.minimum !== undefined && bounded
      ? ` ${node.minimum}–${node.maximum}`
      : node.minimum !== undefined
        ? ` ≥ ${node.minimum}`
        : '';
  return `${t}${range}`;
}
