// A client of the Confluent Schema Registry REST API (v7; Confluent's own registry, Apicurio's
// /apis/ccompat/v7, Karapace, Redpanda), for what weir needs: register a value schema under a
// subject, look one up, fetch a schema by id, and check a schema against a subject's latest
// version. Avro only.
//
// Contract
// - Every call is one logical request, tried against the registry URLs in order, starting with
//   the one that answered last. A URL that cannot be reached, does not answer within
//   requestTimeoutMs (connect, request and the whole response), or answers 5xx/408/429 is
//   skipped for the next; any other answer is final. The longest a call takes is thus
//   urls.length × requestTimeoutMs.
// - No call retries on its own beyond that one pass. When every URL failed the call throws a
//   RegistryError whose code is retriable (WEIR_REGISTRY_UNREACHABLE, or WEIR_REGISTRY_SERVER_ERROR
//   when a registry answered 5xx, 408 or 429); the caller decides when to try again (the forwarder keeps the
//   record spooled).
// - A refusal is final and not retriable: WEIR_REGISTRY_AUTH (401/403), WEIR_REGISTRY_NOT_FOUND
//   (404), WEIR_REGISTRY_INCOMPATIBLE (409: the schema breaks the subject's compatibility rule),
//   WEIR_REGISTRY_SCHEMA_INVALID (422), WEIR_REGISTRY_REFUSED (other 4xx),
//   WEIR_REGISTRY_BAD_RESPONSE (a 2xx body that is not what the API returns).
// - Credentials are sent on every request and never logged.
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { WeirError } from '../errors.ts';
import { isSchemaId } from './framing.ts';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const ACCEPT =
  'application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json';
/** Answers larger than this are refused (a schema is kilobytes; this is a guard, not a limit). */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export type RegistryErrorCode =
  | 'WEIR_REGISTRY_UNREACHABLE'
  | 'WEIR_REGISTRY_SERVER_ERROR'
  | 'WEIR_REGISTRY_AUTH'
  | 'WEIR_REGISTRY_NOT_FOUND'
  | 'WEIR_REGISTRY_INCOMPATIBLE'
  | 'WEIR_REGISTRY_SCHEMA_INVALID'
  | 'WEIR_REGISTRY_REFUSED'
  | 'WEIR_REGISTRY_BAD_RESPONSE';

export class RegistryError extends WeirError {
  /** HTTP status of the final answer, when there was one. */
  readonly status: number | undefined;
  /** The registry's own error_code (e.g. 40401 subject not found), when it gave one. */
  readonly registryCode: number | undefined;
  /** The registry's own message (its `message` field), when it gave one. */
  readonly detail: string | undefined;

  constructor(
    code: RegistryErrorCode,
    message: string,
    options: {
      cause?: unknown;
      status?: number;
      registryCode?: number;
      detail?: string;
    } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.name = 'RegistryError';
    this.status = options.status;
    this.registryCode = options.registryCode;
    this.detail = options.detail;
  }
}

/** Resolved credentials (read from their file or environment variable by the caller). */
export type RegistryAuth =
  | { readonly type: 'basic'; readonly username: string; readonly password: string }
  | { readonly type: 'bearer'; readonly token: string };

export interface RegistryClientOptions {
  /** Base URLs of the API, e.g. https://registry:8081 or http://127.0.0.1:18081/apis/ccompat/v7. */
  readonly urls: readonly string[];
  readonly auth?: RegistryAuth;
  /** For https URLs: PEM CA certificate(s) to trust instead of the system's, and whether to verify. */
  readonly tls?: { readonly ca?: string | Buffer; readonly rejectUnauthorized?: boolean };
  /** Per URL and request, covering connect, request and the whole response (default 10 s). */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
}

export interface CompatibilityResult {
  readonly compatible: boolean;
  /** The registry's reasons, when it gives them (Confluent does with verbose=true). */
  readonly messages: readonly string[];
  /** False when the subject has no version yet: anything is compatible with nothing. */
  readonly subjectExists: boolean;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

export class SchemaRegistryClient {
  readonly #urls: readonly URL[];
  readonly #authorization: string | undefined;
  readonly #timeoutMs: number;
  readonly #log: Logger | undefined;
  readonly #httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  readonly #httpsAgent: https.Agent;
  /** Index of the URL that answered last: the first one tried. */
  #active = 0;

  constructor(opts: RegistryClientOptions) {
    if (opts.urls.length === 0) throw new TypeError('at least one registry URL is needed');
    this.#urls = opts.urls.map((u) => {
      const url = new URL(u);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`a registry URL is http:// or https://, not ${url.protocol}`);
      }
      if (url.username !== '' || url.password !== '') {
        throw new TypeError('credentials do not belong in a registry URL; use auth');
      }
      if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
      return url;
    });
    const auth = opts.auth;
    this.#authorization =
      auth === undefined
        ? undefined
        : auth.type === 'basic'
          ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
          : `Bearer ${auth.token}`;
    this.#timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.#log = opts.logger;
    this.#httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 4,
      ...(opts.tls?.ca !== undefined && { ca: opts.tls.ca }),
      rejectUnauthorized: opts.tls?.rejectUnauthorized ?? true,
    });
  }

  /**
   * Registers `schema` (Avro, as JSON text or a parsed object) under `subject` and returns its id.
   * Registering a schema the subject already has returns the existing id. WEIR_REGISTRY_INCOMPATIBLE
   * when the subject's compatibility rule refuses it.
   */
  async register(subject: string, schema: string | object): Promise<number> {
    const a = await this.#request('POST', `subjects/${enc(subject)}/versions`, { schema: text(schema) });
    return this.#id(a, `registering under ${subject}`);
  }

  /** The id of `schema` under `subject` if it is registered there, else null (no registration). */
  async lookup(subject: string, schema: string | object): Promise<number | null> {
    try {
      const a = await this.#request('POST', `subjects/${enc(subject)}`, { schema: text(schema) });
      return this.#id(a, `looking up under ${subject}`);
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'WEIR_REGISTRY_NOT_FOUND') return null;
      throw err;
    }
  }

  /** The schema text of `id`. WEIR_REGISTRY_NOT_FOUND when the registry has no such id. */
  async schemaById(id: number): Promise<string> {
    if (!isSchemaId(id)) throw new TypeError(`not a schema id: ${id}`);
    const a = await this.#request('GET', `schemas/ids/${id}`);
    const schema = (a.body as { schema?: unknown } | null)?.schema;
    if (typeof schema !== 'string') throw badResponse(a, `fetching schema ${id}`);
    return schema;
  }

  /**
   * Whether `schema` may become the next version of `subject` under its compatibility rule
   * (checked against the latest version). A subject without versions accepts anything.
   */
  async checkCompatibility(subject: string, schema: string | object): Promise<CompatibilityResult> {
    let a: Answer;
    try {
      a = await this.#request('POST', `compatibility/subjects/${enc(subject)}/versions/latest?verbose=true`, {
        schema: text(schema),
      });
    } catch (err) {
      // 40401 subject not found, 40402 version not found: nothing to be incompatible with.
      if (err instanceof RegistryError && (err.registryCode === 40401 || err.registryCode === 40402)) {
        return { compatible: true, messages: [], subjectExists: false };
      }
      throw err;
    }
    const body = a.body as { is_compatible?: unknown; messages?: unknown } | null;
    if (typeof body?.is_compatible !== 'boolean')
      throw badResponse(a, `checking compatibility with ${subject}`);
    const messages = Array.isArray(body.messages) ? body.messages.map(String) : [];
    return { compatible: body.is_compatible, messages, subjectExists: true };
  }

  /** Closes idle keep-alive connections. The client may still be used afterwards. */
  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  #id(a: Answer, what: string): number {
    const id = (a.body as { id?: unknown } | null)?.id;
    if (!isSchemaId(id)) throw badResponse(a, what);
    return id;
  }

  async #request(method: 'GET' | 'POST', path: string, body?: object): Promise<Answer> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const failures: string[] = [];
    let lastError: unknown;
    let serverError = false;
    const n = this.#urls.length;
    for (let i = 0; i < n; i++) {
      const index = (this.#active + i) % n;
      const base = this.#urls[index]!;
      const url = new URL(path, base);
      let a: Answer;
      try {
        a = await this.#once(method, url, payload);
      } catch (err) {
        lastError = err;
        failures.push(`${base.origin}: ${(err as Error).message}`);
        this.#log?.debug({ url: base.origin, err: (err as Error).message }, 'schema registry did not answer');
        continue;
      }
      if (a.status >= 500 || a.status === 408 || a.status === 429) {
        serverError = true;
        lastError = refusal(a, method, path);
        failures.push(`${base.origin}: HTTP ${a.status}`);
        continue;
      }
      if (index !== this.#active) {
        this.#log?.warn({ url: base.origin, failed: failures }, 'schema registry: using another URL');
        this.#active = index;
      }
      if (a.status >= 200 && a.status < 300) return a;
      throw refusal(a, method, path);
    }
    throw new RegistryError(
      serverError ? 'WEIR_REGISTRY_SERVER_ERROR' : 'WEIR_REGISTRY_UNREACHABLE',
      `no schema registry answered ${method} /${path}: ${failures.join('; ')}`,
      { cause: lastError },
    );
  }

  #once(method: string, url: URL, payload: Buffer | undefined): Promise<Answer> {
    const isHttps = url.protocol === 'https:';
    const headers: Record<string, string> = { Accept: ACCEPT, 'User-Agent': 'weir' };
    if (payload !== undefined) {
      headers['Content-Type'] = CONTENT_TYPE;
      headers['Content-Length'] = String(payload.length);
    }
    if (this.#authorization !== undefined) headers['Authorization'] = this.#authorization;
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, answer?: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err === null) resolve(answer!);
        else reject(err);
      };
      const req = (isHttps ? https : http).request(
        url,
        { method, headers, agent: isHttps ? this.#httpsAgent : this.#httpAgent },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy(new Error(`answer larger than ${MAX_RESPONSE_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.once('error', (err) => finish(err));
          res.once('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = null;
            try {
              body = text === '' ? null : JSON.parse(text);
            } catch {
              body = null;
            }
            finish(null, { status: res.statusCode ?? 0, body, text });
          });
        },
      );
      const timer = setTimeout(
        () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      req.once('error', (err) => finish(err));
      req.end(payload);
    });
  }
}

function enc(subject: string): string {
  if (subject === '') throw new TypeError('subject must not be empty');
  return encodeURIComponent(subject);
}

function text(schema: string | object): string {
  return typeof schema === 'string' ? schema : JSON.stringify(schema);
}

function registryMessage(a: Answer): { message: string; registryCode: number | undefined } {
  const b = a.body as { message?: unknown; error_code?: unknown } | null;
  const registryCode = typeof b?.error_code === 'number' ? b.error_code : undefined;
  const message = typeof b?.message === 'string' ? b.message : a.text.slice(0, 200);
  return { message, registryCode };
}

function refusal(a: Answer, method: string, path: string): RegistryError {
  const { message, registryCode } = registryMessage(a);
  const what = `${method} /${path}: HTTP ${a.status}${registryCode === undefined ? '' : ` (${registryCode})`} ${message}`;
  const opts = { status: a.status, registryCode, ...(message !== '' && { detail: message }) };
  if (a.status >= 500 || a.status === 408 || a.status === 429)
    return new RegistryError('WEIR_REGISTRY_SERVER_ERROR', `schema registry failed ${what}`, opts);
  if (a.status === 401 || a.status === 403)
    return new RegistryError('WEIR_REGISTRY_AUTH', `schema registry refused the credentials: ${what}`, opts);
  if (a.status === 404)
    return new RegistryError('WEIR_REGISTRY_NOT_FOUND', `schema registry: not found: ${what}`, opts);
  if (a.status === 409)
    return new RegistryError(
      'WEIR_REGISTRY_INCOMPATIBLE',
      `schema registry: incompatible schema: ${what}`,
      opts,
    );
  if (a.status === 422)
    return new RegistryError(
      'WEIR_REGISTRY_SCHEMA_INVALID',
      `schema registry: invalid schema: ${what}`,
      opts,
    );
  return new RegistryError('WEIR_REGISTRY_REFUSED', `schema registry refused ${what}`, opts);
}

function badResponse(a: Answer, what: string): RegistryError {
  return new RegistryError(
    'WEIR_REGISTRY_BAD_RESPONSE',
    `schema registry gave an unexpected answer ${what} (HTTP ${a.status}): ${a.text.slice(0, 200)}`,
    { status: a.status },
  );
}
