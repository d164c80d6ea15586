// Authorization rules. Pure functions: no I/O.
//
// Publishing: a device that logged in may publish only to topics whose key segment (the route's
// `key`, by default its last named segment) is its own device id; the intake checks this after
// routing (gateway/intake/intake.ts). With `auth: none` there is no identity and no restriction.
//
// Subscribing: refused unless a rule of `acl.subscribe` covers the requested filter. A rule is an
// MQTT topic filter in which a level `{deviceId}` stands for the device's own id; it covers the
// same filter and every narrower one (`cmd/{deviceId}/#` covers `cmd/dev-1/#` and
// `cmd/dev-1/reboot`, not `cmd/+/reboot`). A rule with `{deviceId}` never covers a device
// without an identity.

const PLACEHOLDER = '{deviceId}';

export interface SubscribeRule {
  readonly source: string;
  readonly levels: readonly string[];
  readonly needsIdentity: boolean;
}

/** Parses an `acl.subscribe` pattern; returns every problem found, or the rule. */
export function parseSubscribeRule(source: string): { rule: SubscribeRule } | { problems: string[] } {
  const problems: string[] = [];
  const levels = source.split('/');
  levels.forEach((level, i) => {
    if (level === '#' && i !== levels.length - 1) problems.push(`'#' must be the last level`);
    else if (level !== '#' && level !== '+' && level !== PLACEHOLDER && /[#+{}]/.test(level))
      problems.push(`level '${level}': a level is text, +, # or {deviceId}`);
  });
  if (source.startsWith('$')) problems.push("rules cannot open '$' system topics");
  if (problems.length > 0) return { problems };
  return { rule: { source, levels, needsIdentity: levels.includes(PLACEHOLDER) } };
}

/** Whether a device with `identity` (null: none) may subscribe to `filter`. */
export function subscribeAllowed(
  rules: readonly SubscribeRule[],
  identity: string | null,
  filter: string,
): boolean {
  const wanted = filter.split('/');
  return rules.some((rule) => {
    if (rule.needsIdentity && identity === null) return false;
    return covers(rule.levels, wanted, identity);
  });
}

/** True when every topic `wanted` matches is also matched by `rule`. */
function covers(rule: readonly string[], wanted: readonly string[], identity: string | null): boolean {
  for (let i = 0; i < rule.length; i++) {
    const r = rule[i]!;
    if (r === '#') return true;
    const w = wanted[i];
    if (w === undefined) return false;
    if (r === '+') {
      if (w === '#') return false;
      continue;
    }
    const literal = r === PLACEHOLDER ? identity : r;
    if (w !== literal) return false;
  }
  return wanted.length === rule.length;
}
