// `weir passwd FILE DEVICE_ID`: adds or changes a device's password in a users file (auth.usersFile);
// `--delete` removes the device. The password is asked twice without echo on a terminal, or read
// from stdin otherwise (one line; a trailing newline is not part of it). The file is replaced
// atomically (temp file, fsync, rename, fsync of the directory) with mode 0600; other lines and
// comments are kept. A running gateway reads the file again on SIGHUP (systemctl reload weir).
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { hashPassword, parseUsersFile, updateUsersText } from '../auth/users-file.ts';
import { DEVICE_ID } from '../config/schema.ts';
import { errorMessage } from '../errors.ts';

const HELP = `usage: weir passwd FILE DEVICE_ID            set the password of a device (asked, or read from stdin)
       weir passwd --delete FILE DEVICE_ID   remove a device

FILE is the users file of auth.usersFile; it is created (mode 0600) when missing.
The password is asked twice on a terminal, else read from stdin (one line).
A running gateway reads the file again on SIGHUP (systemctl reload weir).
`;

export async function passwdCommand(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (err) {
    process.stderr.write(`weir passwd: ${errorMessage(err)}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const [file, deviceId, ...extra] = parsed.positionals;
  if (file === undefined || deviceId === undefined || extra.length > 0) {
    process.stderr.write(HELP);
    return 2;
  }
  if (!DEVICE_ID.test(deviceId)) {
    process.stderr.write(
      `weir passwd: a device id is 1–256 characters without spaces, ':', '/', '+' or '#'\n`,
    );
    return 2;
  }
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      process.stderr.write(`weir passwd: cannot read ${file}: ${errorMessage(err)}\n`);
      return 1;
    }
  }
  const known = parseUsersFile(text).users.has(deviceId);
  try {
    if (parsed.values.delete) {
      if (!known) {
        process.stderr.write(`weir passwd: ${file} has no device '${deviceId}'\n`);
        return 1;
      }
      writeAtomically(file, updateUsersText(text, deviceId, null));
      process.stdout.write(`${file}: removed ${deviceId}\n`);
      return 0;
    }
    const password = await readPassword(deviceId);
    if (password.length === 0) {
      process.stderr.write('weir passwd: the password is empty\n');
      return 1;
    }
    const hash = await hashPassword(password);
    password.fill(0);
    writeAtomically(file, updateUsersText(text, deviceId, hash));
    process.stdout.write(`${file}: ${known ? 'changed' : 'added'} ${deviceId}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`weir passwd: ${errorMessage(err)}\n`);
    return 1;
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    options: { delete: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: true,
  });
}

async function readPassword(deviceId: string): Promise<Buffer> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const all = Buffer.concat(chunks).toString('utf8');
    const line = all.split('\n')[0]!.replace(/\r$/, '');
    return Buffer.from(line, 'utf8');
  }
  const first = await promptHidden(`password for ${deviceId}: `);
  const second = await promptHidden('again: ');
  if (first !== second) throw new Error('the passwords differ');
  return Buffer.from(first, 'utf8');
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err: Error | null) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003' || ch === '\u0004') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Replaces `file` with `text`: temp file (0600) in the same directory, fsync, rename, fsync dir. */
function writeAtomically(file: string, text: string): void {
  const dir = path.dirname(path.resolve(file));
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(temp, file);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
