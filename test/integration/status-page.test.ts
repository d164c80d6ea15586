// The status page in a real headless browser (Debian's chromium driven by playwright-core) while
// devices publish: the numbers on it move, and they are the numbers of /status. On a phone-sized
// screen nothing spills sideways. When weir stops answering, the page says so.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { chromium, type Page } from 'playwright-core';
import { startGateway } from '../../gateway/main.ts';
import { connectDevice, readingFor, topicFor } from '../support/devices.ts';
import { sleep, waitFor } from '../support/faults.ts';
import { sampleConfig } from '../support/gateway.ts';
import { getStatus, waitForStatus } from '../support/ops.ts';

const CHROMIUM = process.env.WEIR_CHROMIUM ?? '/usr/bin/chromium';

/** The exact value behind a number shown on the page. */
async function shown(page: Page, field: string): Promise<number> {
  const v = await page.getAttribute(`[data-field="${field}"]`, 'data-value');
  assert.ok(v !== null && v !== '', `the page shows ${field}`);
  return Number(v);
}

async function shownRoute(page: Page, route: string): Promise<number> {
  const v = await page.getAttribute(`#routes tr[data-route="${route}"] td:nth-child(4)`, 'data-value');
  return Number(v);
}

test('the status page shows live numbers that match /status, on a phone', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is needed for this test: apt-get install chromium`);
  const { loaded } = sampleConfig();
  const gateway = await startGateway(loaded, { log: pino({ level: 'silent' }) });
  let stopped = false;
  t.after(() => (stopped ? undefined : gateway.stop()));
  const base = `http://127.0.0.1:${gateway.http!.port}`;
  const url = `mqtt://127.0.0.1:${gateway.mqtt.port}`;

  const bus = await connectDevice(url, 'page-bus-1');
  const mill = await connectDevice(url, 'page-mill-1');
  t.after(() => Promise.all([bus.endAsync(), mill.endAsync()]));
  let seq = 0;
  const traffic = setInterval(() => {
    for (let i = 0; i < 10; i++) {
      seq++;
      bus.publish(topicFor('vehicle', 'page-bus-1'), JSON.stringify(readingFor('vehicle', seq, Date.now())), {
        qos: 1,
      });
      mill.publish(
        topicFor('factory', 'page-mill-1'),
        JSON.stringify(readingFor('factory', seq, Date.now())),
        { qos: 0 },
      );
    }
    bus.publish('no/route/here', 'x', { qos: 0 });
  }, 50);
  t.after(() => clearInterval(traffic));

  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  await page.goto(`${base}/?refresh=0.5`);
  await page.waitForSelector('[data-field="state"][data-value="ok"]', { timeout: 15_000 });

  // The numbers move while traffic flows, and each lies between two /status answers around it.
  const before = await getStatus(base);
  const in1 = await shown(page, 'in.messages');
  const out1 = await shown(page, 'out.records');
  const after = await getStatus(base);
  assert.ok(in1 <= after.in.messages && out1 <= after.out.records, 'the page is not ahead of /status');
  await waitFor(
    async () => (await shown(page, 'in.messages')) > Math.max(in1, before.in.messages),
    5000,
    'in to move',
  );
  await waitFor(async () => (await shown(page, 'out.records')) > out1, 5000, 'out to move');
  assert.ok((await shown(page, 'in.messagesPerSecond')) > 50, 'a live rate in');
  assert.ok((await shown(page, 'out.recordsPerSecond')) > 50, 'a live rate out');
  assert.ok((await shownRoute(page, 'vehicle-gps')) > 0);
  assert.equal(await shown(page, 'devices.connected'), 2);
  assert.ok((await shown(page, 'chart.max')) > 50, 'the chart is drawn to the current rate');
  assert.notEqual(await page.getAttribute('#chart-in', 'points'), '');

  // Traffic stops: once the page has refreshed, it shows exactly what /status says.
  clearInterval(traffic);
  const settled = await waitForStatus(
    base,
    (s) => s.out.records === s.in.messages && s.backlog.records === 0,
    15_000,
    'everything in Kafka',
  );
  await waitFor(
    async () => (await shown(page, 'out.records')) === settled.out.records,
    5000,
    'the page to catch up',
  );
  await sleep(700);
  const s = await getStatus(base);
  assert.equal(await shown(page, 'in.messages'), s.in.messages);
  assert.equal(await shown(page, 'out.records'), s.out.records);
  assert.equal(await shown(page, 'deadLetters.total'), s.deadLetters.total);
  assert.ok(s.deadLetters.total > 0, 'the unrouted messages are dead letters');
  assert.equal(
    await page.getAttribute('#deadletter-reasons li[data-reason="no_route"]', 'data-value'),
    String(s.deadLetters.byReason['no_route']),
  );
  assert.equal(await shown(page, 'dropped.total'), s.dropped.total);
  assert.equal(await shown(page, 'backlog.maxBytes'), s.backlog.maxBytes);
  assert.equal(await shown(page, 'backlog.records'), s.backlog.records);
  for (const r of s.routes) assert.equal(await shownRoute(page, r.name), r.messages, r.name);
  assert.equal(await page.getAttribute('[data-field="kafka.up"]', 'data-value'), 'true');
  assert.equal(
    await page.textContent('[data-field="kafka.brokers"]'),
    loaded.config.kafka.brokers.join(', '),
  );
  assert.equal(await page.getAttribute('[data-field="gateway.version"]', 'data-value'), s.gateway.version);

  // Readable on a phone: nothing wider than the screen, the state in view without scrolling.
  const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the phone`);
  const state = await page.locator('[data-field="state"]').boundingBox();
  assert.ok(state !== null && state.y + state.height < 844);
  const shot = path.join(tmpdir(), 'weir-status-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  process.stderr.write(`status page screenshot: ${shot}\n`);

  // weir gone: the page says it is not answering rather than showing old numbers as current.
  stopped = true;
  await gateway.stop();
  await page.waitForSelector('#unreachable:not([hidden])', { timeout: 5000 });
  assert.deepEqual(
    errors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED/.test(e)),
    [],
  );
});
