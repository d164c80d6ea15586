// Writes a benchmark's result: JSON (commit, machine, Node version, config, figures) and a short
// Markdown table, under benchmarks/results/ (or $WEIR_BENCH_RESULTS_DIR), and prints the table.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const dir = process.env['WEIR_BENCH_RESULTS_DIR'] || fileURLToPath(new URL('./results/', import.meta.url));

export async function writeResult(
  name: string,
  config: Record<string, unknown>,
  figures: Record<string, unknown>,
  table: Array<[string, string | number]>,
): Promise<void> {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {}
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: os.release(),
  };
  const result = {
    name,
    date: new Date().toISOString(),
    commit,
    machine,
    node: process.version,
    config,
    figures,
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    `### ${name}${config['quick'] === true ? ' — quick run, rough figures' : ''} (${result.date.slice(0, 10)}, commit ${commit}, ${machine.cpus} cores, Node ${process.version})`,
    '',
    '| measure | value |',
    '| --- | --- |',
    ...table.map(([k, v]) => `| ${k} | ${v} |`),
    '',
  ].join('\n');
  writeFileSync(path.join(dir, `${name}.md`), md);
  process.stdout.write(`${md}\n`);
}
