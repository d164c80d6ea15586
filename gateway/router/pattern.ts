// MQTT topic patterns with named segments: `city/{site}/{sensorType}/{deviceId}`.
// A level is a literal, `{name}` (matches one level, captured), `+` (one level, not captured) or a
// final `#` (any remaining levels, possibly none). Pure functions: no I/O.

export type Level =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'single' }
  | { readonly kind: 'rest' };

export interface TopicPattern {
  readonly source: string;
  readonly levels: readonly Level[];
  /** Named segments in order of appearance. */
  readonly names: readonly string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses a pattern; returns every problem found, or the pattern. */
export function parsePattern(source: string): { pattern: TopicPattern } | { problems: string[] } {
  const problems: string[] = [];
  const levels: Level[] = [];
  const names: string[] = [];
  const parts = source.split('/');
  parts.forEach((part, i) => {
    if (part === '#') {
      if (i !== parts.length - 1) problems.push(`'#' must be the last level (level ${i + 1})`);
      levels.push({ kind: 'rest' });
    } else if (part === '+') {
      levels.push({ kind: 'single' });
    } else if (part.startsWith('{') && part.endsWith('}')) {
      const name = part.slice(1, -1);
      if (!NAME.test(name)) problems.push(`'${part}' is not a valid segment name (letters, digits, _)`);
      else if (names.includes(name)) problems.push(`segment name '${name}' appears twice`);
      names.push(name);
      levels.push({ kind: 'named', name });
    } else if (/[{}+#]/.test(part)) {
      problems.push(`level '${part}' mixes text with {, }, + or #; a level is all text or one wildcard`);
    } else {
      levels.push({ kind: 'literal', text: part });
    }
  });
  if (source.startsWith('$')) problems.push("patterns cannot match '$' system topics");
  return problems.length > 0 ? { problems } : { pattern: { source, levels, names } };
}

/**
 * Matches a concrete topic (already split on '/') against a pattern. Returns the captured
 * segments in `names` order, or null. An empty level never fills a named segment.
 */
export function matchLevels(pattern: TopicPattern, topicLevels: readonly string[]): string[] | null {
  const { levels } = pattern;
  const captured: string[] = [];
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.kind === 'rest') return captured;
    const value = topicLevels[i];
    if (value === undefined) return null;
    if (level.kind === 'literal') {
      if (value !== level.text) return null;
    } else if (level.kind === 'named') {
      if (value.length === 0) return null;
      captured.push(value);
    }
  }
  return topicLevels.length === levels.length ? captured : null;
}
