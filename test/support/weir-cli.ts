// Running the `weir` CLI as a real child process, as users do.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { repoRoot } from './gateway.ts';

export const WEIR = path.join(repoRoot, 'bin/weir.ts');

export interface WeirProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

export function spawnWeir(args: readonly string[], env: Record<string, string> = {}): WeirProcess {
  const child = spawn(process.execPath, [WEIR, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs `weir ARGS` to the end; kills it after `timeoutMs`. */
export async function runWeir(
  args: readonly string[],
  opts: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnWeir(args, opts.env);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Resolves once `predicate` holds for the process's output so far (polls every 50 ms). */
export async function waitForOutput(
  p: WeirProcess,
  predicate: (all: string) => boolean,
  timeoutMs: number,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate(p.stdout() + p.stderr())) {
    if (Date.now() > until)
      throw new Error(`output did not appear within ${timeoutMs} ms:\n${p.stdout()}${p.stderr()}`);
    if (p.child.exitCode !== null)
      throw new Error(`process exited (${p.child.exitCode}):\n${p.stdout()}${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A fresh directory, removed when the test ends. */
export function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
