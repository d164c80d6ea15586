// The status page: polls /status and shows it. Plain JavaScript, no build step, no dependencies.
// Every number shown sits in an element with data-field="<path>"; its exact value is in
// data-value (tests compare it with /status). ?refresh=SECONDS changes the poll interval (2 s).
'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  const refreshMs = Math.max(500, Number(params.get('refresh') || 2) * 1000);
  const HISTORY = 120; // points in the chart: 10 minutes at one point per 5 s
  const nf = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  let lastOk = null;
  let timer = null;
  let polling = false;

  const $ = (id) => document.getElementById(id);

  function set(field, value, text) {
    for (const el of document.querySelectorAll(`[data-field="${field}"]`)) {
      el.dataset.value = value === null || value === undefined ? '' : String(value);
      el.textContent = text ?? (value === null || value === undefined ? '–' : String(value));
    }
  }

  function count(n) {
    return nf.format(n);
  }

  function rate(n) {
    if (n >= 10_000) return `${nf1.format(n / 1000)}k`;
    return n < 10 ? nf1.format(n) : nf.format(n);
  }

  function bytes(n) {
    if (n === null || n === undefined) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return `${i === 0 ? nf.format(n) : nf1.format(n)} ${units[i]}`;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    const s = Math.floor(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }

  function since(iso) {
    return (Date.now() - Date.parse(iso)) / 1000;
  }

  function reasons(id, byReason) {
    const ul = $(id);
    ul.replaceChildren();
    for (const [reason, n] of Object.entries(byReason)) {
      if (n === 0) continue;
      const li = document.createElement('li');
      li.dataset.reason = reason;
      li.dataset.value = String(n);
      li.textContent = `${reason.replaceAll('_', ' ')}: ${count(n)}`;
      ul.append(li);
    }
  }

  function conditions(list) {
    const ul = $('conditions');
    ul.replaceChildren();
    for (const c of list) {
      const li = document.createElement('li');
      li.className = c.severity;
      li.dataset.code = c.code;
      const code = document.createElement('strong');
      code.textContent = c.code.replaceAll('_', ' ');
      const when = document.createElement('span');
      when.className = 'muted';
      when.textContent = ` · for ${duration(since(c.since))}`;
      li.append(code, ` — ${c.message}`, when);
      ul.append(li);
    }
  }

  function routes(list) {
    const body = $('routes').tBodies[0];
    body.replaceChildren();
    for (const r of list) {
      const tr = document.createElement('tr');
      tr.dataset.route = r.name;
      const cells = [
        [r.name, null],
        [rate(r.messagesPerSecond), r.messagesPerSecond],
        [`${bytes(r.bytesPerSecond)}`, r.bytesPerSecond],
        [count(r.messages), r.messages],
      ];
      cells.forEach(([text, value], i) => {
        const td = document.createElement('td');
        if (i > 0) td.className = 'num';
        if (value !== null) td.dataset.value = String(value);
        td.textContent = text;
        tr.append(td);
      });
      if (r.messages === 0) tr.classList.add('idle');
      body.append(tr);
    }
  }

  // The last minutes of rates, kept by weir (so a freshly opened page has them), and the current
  // rate at the right edge; the scale is the highest rate shown.
  function chart(s) {
    const h = {
      in: [...s.history.in, s.in.messagesPerSecond].slice(-HISTORY),
      out: [...s.history.out, s.out.recordsPerSecond].slice(-HISTORY),
    };
    // A single point would not show: draw it as a short level line.
    if (h.in.length === 1) {
      h.in.unshift(h.in[0]);
      h.out.unshift(h.out[0]);
    }
    const n = h.in.length;
    const max = Math.max(1, ...h.in, ...h.out);
    const step = 300 / (HISTORY - 1);
    const x0 = 300 - (n - 1) * step;
    const line = (values) =>
      values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(78 - (v / max) * 72).toFixed(1)}`).join(' ');
    $('chart-in').setAttribute('points', line(h.in));
    $('chart-out').setAttribute('points', line(h.out));
    set('chart.max', max, rate(max));
    set('chart.span', n, duration(s.history.in.length * s.history.intervalSeconds + s.windowSeconds));
  }

  function render(s) {
    const stateEl = document.querySelector('[data-field="state"]');
    stateEl.dataset.state = s.state;
    set('state', s.state, s.ready ? s.state : `${s.state} · not ready`);
    document.title = `weir ${s.gateway.id}: ${s.state}`;
    conditions(s.conditions);

    set('gateway.id', s.gateway.id);
    set('gateway.version', s.gateway.version);
    set('gateway.uptime', s.gateway.uptimeSeconds, duration(s.gateway.uptimeSeconds));
    set('windowSeconds', s.windowSeconds, nf.format(Math.floor(s.windowSeconds)));

    set('in.messagesPerSecond', s.in.messagesPerSecond, rate(s.in.messagesPerSecond));
    set('in.bytesPerSecond', s.in.bytesPerSecond, bytes(s.in.bytesPerSecond));
    set('in.messages', s.in.messages, count(s.in.messages));
    set('out.recordsPerSecond', s.out.recordsPerSecond, rate(s.out.recordsPerSecond));
    set('out.records', s.out.records, count(s.out.records));

    set('kafka.up', s.kafka.up, s.kafka.up ? 'up' : 'down');
    $('tile-kafka').dataset.up = String(s.kafka.up);
    set('kafka.for', since(s.kafka.since), duration(since(s.kafka.since)));
    set('kafka.brokers', s.kafka.brokers.join(', '), s.kafka.brokers.join(', '));
    set('kafka.problem', s.kafka.problem, s.kafka.problem ?? '');
    set('devices.connected', s.devices.connected, count(s.devices.connected));
    const bp = s.backpressure;
    set('backpressure', bp.active, bp.active ? (bp.cause === 'spool_full' ? 'yes, spool full' : 'yes, memory full') : 'no');
    $('tile-devices').dataset.waiting = String(bp.active);

    const b = s.backlog;
    const fill = b.maxBytes > 0 ? b.bytes / b.maxBytes : 0;
    set('backlog.where', b.where, b.where === 'spool' ? 'spool on disk' : 'memory (no spool)');
    set('backlog.bytes', b.bytes, bytes(b.bytes));
    set('backlog.maxBytes', b.maxBytes, bytes(b.maxBytes));
    set('backlog.fill', fill, `${nf1.format(fill * 100)} %`);
    set('backlog.records', b.records, b.records === null ? '–' : count(b.records));
    set('backlog.oldestAge', b.oldestAgeSeconds, duration(b.oldestAgeSeconds));
    set('backlog.diskFreeBytes', b.diskFreeBytes, bytes(b.diskFreeBytes));
    set('backlog.whenFull', b.whenFull, b.whenFull ?? '–');
    const bar = $('backlog-fill');
    bar.style.width = `${Math.min(100, fill * 100)}%`;
    bar.dataset.level = fill >= 0.9 ? 'high' : fill >= 0.5 ? 'mid' : 'low';

    set('deadLetters.total', s.deadLetters.total, count(s.deadLetters.total));
    reasons('deadletter-reasons', s.deadLetters.byReason);
    set('dropped.total', s.dropped.total, count(s.dropped.total));
    reasons('dropped-reasons', s.dropped.byReason);
    $('tile-dropped').dataset.nonzero = String(s.dropped.total > 0);

    routes(s.routes);
    chart(s);
  }

  async function poll() {
    timer = null;
    polling = true;
    try {
      const res = await fetch('status', { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      render(await res.json());
      lastOk = new Date();
      $('unreachable').hidden = true;
      document.body.classList.remove('stale');
      $('updated').textContent = lastOk.toLocaleTimeString();
    } catch {
      $('unreachable').hidden = false;
      document.body.classList.add('stale');
      $('last-ok').textContent = lastOk === null ? 'never' : lastOk.toLocaleTimeString();
    }
    polling = false;
    if (document.visibilityState === 'visible') timer = setTimeout(poll, refreshMs);
  }

  // A phone in a pocket does not poll.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && timer === null && !polling) poll();
  });
  poll();
})();
