// Regenerates the config reference section of README.md from the config schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { configReference, REFERENCE_BEGIN, REFERENCE_END } from '../gateway/config/reference.ts';

const file = new URL('../README.md', import.meta.url);
const readme = readFileSync(file, 'utf8');
const start = readme.indexOf(REFERENCE_BEGIN);
const end = readme.indexOf(REFERENCE_END);
if (start < 0 || end < start) throw new Error('README.md lacks the config-reference markers');
const updated = `${readme.slice(0, start + REFERENCE_BEGIN.length)}\n${configReference()}\n${readme.slice(end)}`;
writeFileSync(file, updated);
