import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Authenticator, type LoginAttempt } from '../../gateway/auth/authenticator.ts';
import { LoginPenalty } from '../../gateway/auth/penalty.ts';
import {
  formatHash,
  hashPassword,
  parseHash,
  parseUsersFile,
  updateUsersText,
  verifyPassword,
} from '../../gateway/auth/users-file.ts';

const FAST = { N: 1024, r: 8, p: 1 };

describe('password hashing', () => {
  test('a hash verifies its own password and no other; salts differ', async () => {
    const a = await hashPassword('correct horse', FAST);
    const b = await hashPassword('correct horse', FAST);
    assert.notDeepEqual(a.salt, b.salt);
    assert.notDeepEqual(a.hash, b.hash);
    assert.equal(await verifyPassword('correct horse', a), true);
    assert.equal(await verifyPassword(Buffer.from('correct horse'), b), true);
    assert.equal(await verifyPassword('correct horsE', a), false);
    assert.equal(await verifyPassword('', a), false);
  });

  test('the written form parses back to the same hash', async () => {
    const h = await hashPassword('pw', FAST);
    const text = formatHash(h);
    assert.match(text, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.deepEqual(parseHash(text), h);
  });

  test('bad parameters are refused before any hashing', () => {
    assert.match(String(parseHash('bcrypt$x')), /expected scrypt/);
    assert.match(String(parseHash('scrypt$1000$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==')), /power of two/);
    assert.match(
      String(parseHash(`scrypt$${2 ** 22}$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==`)),
      /power of two/,
    );
    assert.match(String(parseHash('scrypt$1024$99$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==')), /r must/);
    assert.match(String(parseHash('scrypt$1024$8$1$!!$aGFzaGhhc2hoYXNoaGFzaA==')), /salt/);
    assert.match(String(parseHash('scrypt$1024$8$1$c2FsdHNhbHQ=$c2hvcnQ=')), /hash/);
  });
});

describe('users file', () => {
  test('comments and blank lines are skipped; problems name the line, never its content', async () => {
    const h = formatHash(await hashPassword('pw', FAST));
    const text = [
      '# devices of line 3',
      '',
      `press-01:${h}`,
      'no colon here secret-ish',
      `bad/id:${h}`,
      `press-02:scrypt$1024$8$1$zz`,
      `press-01:${h}`,
    ].join('\n');
    const { users, problems } = parseUsersFile(text);
    assert.deepEqual([...users.keys()], ['press-01']);
    assert.equal(problems.length, 4);
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]),
      ['line 4', 'line 5', 'line 6', 'line 7'],
    );
    for (const p of problems) assert.doesNotMatch(p, /secret-ish|scrypt\$1024\$8\$1\$[A-Za-z]/);
  });

  test('updating: a changed device keeps its place, a new one goes last, comments stay, delete removes', async () => {
    const h1 = await hashPassword('one', FAST);
    const h2 = await hashPassword('two', FAST);
    let text = updateUsersText('', 'a', h1);
    text = updateUsersText(`# fleet\n${text}`, 'b', h1);
    text = updateUsersText(text, 'a', h2);
    const lines = text.trimEnd().split('\n');
    assert.equal(lines[0], '# fleet');
    assert.equal(lines[1], `a:${formatHash(h2)}`);
    assert.equal(lines[2], `b:${formatHash(h1)}`);
    text = updateUsersText(text, 'a', null);
    assert.deepEqual([...parseUsersFile(text).users.keys()], ['b']);
    assert.equal(updateUsersText(text, 'b', null), '# fleet\n');
  });
});

describe('login rules', () => {
  const attempt = (over: Partial<LoginAttempt>): LoginAttempt => ({
    clientId: 'dev-1',
    clean: true,
    username: undefined,
    password: undefined,
    certificate: null,
    ...over,
  });

  test('username and password against the users file', async () => {
    const users = new Map([['dev-1', await hashPassword('pw-1', FAST)]]);
    const auth = new Authenticator({ users, clientCertificates: false });
    const pw = (s: string) => Buffer.from(s);
    assert.deepEqual(await auth.login(attempt({ username: 'dev-1', password: pw('pw-1') })), {
      ok: true,
      identity: 'dev-1',
    });
    // A remembered login is answered the same way, and a wrong password still fails after it.
    assert.equal((await auth.login(attempt({ username: 'dev-1', password: pw('pw-1') }))).ok, true);
    assert.deepEqual(await auth.login(attempt({ username: 'dev-1', password: pw('pw-2') })), {
      ok: false,
      reason: 'bad_password',
    });
    assert.deepEqual(
      await auth.login(attempt({ username: 'dev-9', password: pw('pw-1'), clientId: 'dev-9' })),
      {
        ok: false,
        reason: 'unknown_device',
      },
    );
    assert.deepEqual(await auth.login(attempt({})), { ok: false, reason: 'no_credentials' });
    // The client id must be the identity (or empty with a clean session).
    assert.deepEqual(
      await auth.login(attempt({ username: 'dev-1', password: pw('pw-1'), clientId: 'dev-2' })),
      {
        ok: false,
        reason: 'client_id',
      },
    );
    assert.equal(
      (await auth.login(attempt({ username: 'dev-1', password: pw('pw-1'), clientId: '' }))).ok,
      true,
    );
    // A changed users file forgets remembered logins.
    auth.replaceUsers(new Map([['dev-1', await hashPassword('new', FAST)]]));
    assert.equal((await auth.login(attempt({ username: 'dev-1', password: pw('pw-1') }))).ok, false);
  });

  test('client certificates: the certificate names the device; a username must agree', async () => {
    const users = new Map([['dev-1', await hashPassword('pw-1', FAST)]]);
    const auth = new Authenticator({ users, clientCertificates: true });
    const cert = { identity: 'dev-1' };
    assert.deepEqual(await auth.login(attempt({ certificate: cert })), { ok: true, identity: 'dev-1' });
    assert.deepEqual(await auth.login(attempt({ certificate: cert, username: 'dev-2' })), {
      ok: false,
      reason: 'identity_mismatch',
    });
    assert.deepEqual(
      await auth.login(attempt({ certificate: cert, username: 'dev-1', password: Buffer.from('nope') })),
      { ok: false, reason: 'bad_password' },
    );
    assert.deepEqual(await auth.login(attempt({ certificate: 'unverified' })), {
      ok: false,
      reason: 'bad_certificate',
    });
    // Without certificate logins, a certificate is not a login.
    const passwordsOnly = new Authenticator({ users, clientCertificates: false });
    assert.deepEqual(await passwordsOnly.login(attempt({ certificate: cert })), {
      ok: false,
      reason: 'no_credentials',
    });
  });

  test('a flood of logins is bounded: beyond the queue, busy', async () => {
    const users = new Map([['dev-1', await hashPassword('pw-1', FAST)]]);
    const auth = new Authenticator({
      users,
      clientCertificates: false,
      maxConcurrentHashes: 1,
      maxQueuedLogins: 3,
    });
    const results = await Promise.all(
      Array.from({ length: 8 }, () => auth.login(attempt({ username: 'dev-1', password: Buffer.from('x') }))),
    );
    const reasons = results.map((r) => (r.ok ? 'ok' : r.reason));
    assert.equal(reasons.filter((r) => r === 'bad_password').length, 4, reasons.join());
    assert.equal(reasons.filter((r) => r === 'busy').length, 4, reasons.join());
  });
});

describe('login penalty', () => {
  test('the delay doubles per recent failure up to the cap and is forgotten after the window', () => {
    let now = 0;
    const p = new LoginPenalty({
      baseDelayMs: 100,
      maxDelayMs: 1000,
      windowMs: 60_000,
      maxAddresses: 10,
      now: () => now,
    });
    assert.equal(p.delayMs('10.0.0.1'), 0);
    assert.deepEqual(
      Array.from({ length: 6 }, () => p.fail('10.0.0.1')),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(p.delayMs('10.0.0.2'), 0, 'other addresses are not slowed down');
    now += 60_001;
    assert.equal(p.delayMs('10.0.0.1'), 0);
  });

  test('the table is bounded: the address idle the longest is forgotten first', () => {
    const p = new LoginPenalty({ baseDelayMs: 100, maxDelayMs: 1000, windowMs: 60_000, maxAddresses: 100 });
    p.fail('first');
    for (let i = 0; i < 10_000; i++) p.fail(`10.0.${i >> 8}.${i & 255}`);
    assert.equal(p.size, 100);
    assert.equal(p.delayMs('first'), 0);
    assert.equal(p.delayMs('10.0.39.15'), 100, 'the latest are kept');
  });
});
