// The operations listener: Prometheus metrics, health, status and the status page, on their own
// HTTP port (default 127.0.0.1:9464), apart from device traffic.
//
//   GET /metrics   Prometheus text format (every weir_* metric, plus process_* and nodejs_*)
//   GET /healthz   200 while the process runs and its event loop answers
//   GET /readyz    200 while weir takes messages in (MQTT listening, spool writable), else 503;
//                  the body is the state and conditions as JSON
//   GET /status    the gateway's status as JSON (status.ts)
//   GET /          the status page (page.html, page.js, page.css: plain files, no build step)
//
// Only GET and HEAD. Nothing here authenticates: keep the listener on loopback or behind a
// firewall or a reverse proxy.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { rateLimited } from '../log.ts';
import type { GatewayStatus } from './status.ts';

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly status: () => GatewayStatus;
  readonly log: Logger;
}

export interface HttpListener {
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

const assets: Record<string, Asset> = {
  '/': asset('page.html', 'text/html; charset=utf-8'),
  '/page.js': asset('page.js', 'text/javascript; charset=utf-8'),
  '/page.css': asset('page.css', 'text/css; charset=utf-8'),
};

const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export async function startHttpListener(opts: HttpOptions): Promise<HttpListener> {
  const { registry, status, log } = opts;
  const logFailure = rateLimited(10_000, (suppressed) =>
    log.error({ suppressed }, 'answering an HTTP request failed'),
  );

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://weir');
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
      return;
    }
    try {
      switch (url.pathname) {
        case '/metrics':
          send(res, 200, registry.contentType, await registry.metrics());
          return;
        case '/healthz':
          send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
          return;
        case '/readyz': {
          const s = status();
          const body = { ready: s.ready, state: s.state, conditions: s.conditions };
          sendJson(res, s.ready ? 200 : 503, body);
          return;
        }
        case '/status':
          sendJson(res, 200, status());
          return;
      }
      const file = assets[url.pathname];
      if (file !== undefined) {
        send(res, 200, file.type, file.body, { 'Content-Security-Policy': PAGE_POLICY });
        return;
      }
      send(res, 404, 'text/plain; charset=utf-8', 'not found: try /, /status, /metrics, /healthz, /readyz\n');
    } catch (err) {
      logFailure();
      log.debug({ err, path: url.pathname }, 'HTTP request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    }
  });
  // Bounded resources: a status page polls once a second; nothing needs more.
  server.maxConnections = 64;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  server.listen(opts.port, opts.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  server.on('error', (err) => log.error({ err }, 'HTTP listener error'));
  const addr = server.address() as AddressInfo;
  log.info({ host: addr.address, port: addr.port }, 'HTTP listener ready (metrics, health, status page)');

  return {
    address: { host: addr.address, port: addr.port },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function send(
  res: http.ServerResponse,
  code: number,
  type: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(code, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  send(res, code, 'application/json; charset=utf-8', `${JSON.stringify(body, null, 2)}\n`);
}

function asset(name: string, type: string): Asset {
  return { body: readFileSync(new URL(name, import.meta.url)), type };
}
