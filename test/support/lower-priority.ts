// Preloaded (`node --import`) into the test files of npm test's shared lane (test/run.ts): lowers
// the file's CPU priority (nice 10), which its children (brokers, weir processes) inherit, so that
// on a busy machine the heavy lane's long fault runs get the CPU first. Lowering needs no privilege.
import os from 'node:os';

os.setPriority(10);
