// Writes a benchmark's result: JSON (commit, machine, profile, Node version, config, figures) and a
// short Markdown table, under benchmarks/results/ (or $WEIR_BENCH_RESULTS_DIR), and prints the
// table. A run in the Pi-class profile (--pi) is written as `<case>-pi`, beside the whole-machine one.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { profile } from './lib/profile.ts';

const dir = process.env['WEIR_BENCH_RESULTS_DIR'] || fileURLToPath(new URL('./results/', import.meta.url));

export async function writeResult(
  caseName: string,
  config: Record<string, unknown>,
  figures: Record<string, unknown>,
  table: Array<[string, string | number]>,
  /** More Markdown, after the table (a wider table, notes). */
  extra?: string,
): Promise<void> {
  const p = profile();
  const name = p.name === '' ? caseName : `${caseName}-${p.name}`;
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {}
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: os.release(),
    /** 1, 5 and 15 minute load averages when the case finished (the machine may be shared). */
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
  const result = {
    name,
    date: new Date().toISOString(),
    commit,
    machine,
    profile: p.description,
    node: process.version,
    config,
    figures,
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    `### ${name}${config['quick'] === true ? ' — quick run, rough figures' : ''} (${result.date.slice(0, 10)}, commit ${commit}, ${machine.cpus} cores, load ${machine.loadAverage.join(' ')}, Node ${process.version})`,
    '',
    ...(p.name === '' ? [] : [`Profile: ${p.description}.`, '']),
    '| measure | value |',
    '| --- | --- |',
    ...table.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    ...(extra === undefined ? [] : [extra.trimEnd(), '']),
  ].join('\n');
  writeFileSync(path.join(dir, `${name}.md`), md);
  process.stdout.write(`${md}\n`);
}
