// Small helpers of the local services: run a command to its end, the last lines of some output,
// whether a path exists.
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';

export interface RunResult {
  code: number | null;
  output: string;
  error?: NodeJS.ErrnoException;
}

/** Runs `cmd` to its end and gives its exit code and output (stdout, then stderr); never throws. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? 0, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (error === null) resolvePromise({ code: 0, output });
        else {
          const code = typeof error.code === 'number' ? error.code : null;
          resolvePromise({ code, output, error: error as NodeJS.ErrnoException });
        }
      },
    );
  });
}

/**
 * The last `lines` lines of `text`, without ANSI colour codes and without Maven's generic advice
 * after an error (what went wrong stays).
 */
export function tail(text: string, lines = 30): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes from Maven
  const clean = text.replace(/\u001b\[[0-9;]*m/g, '').trimEnd();
  const boilerplate =
    /^\[ERROR\] *$|^\[ERROR\] (To see the full|Re-run Maven|For more information|\[Help \d+\] http)/;
  return clean
    .split('\n')
    .filter((l) => !boilerplate.test(l))
    .slice(-lines)
    .join('\n');
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
