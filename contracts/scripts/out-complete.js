#!/usr/bin/env node
// Exit 1 if any artifact in out/ lacks bytecode. `forge lint` (1.7.1) sharing the default
// cache leaves such ABI-only artifacts, and `forge test` then silently skips their suites;
// test.sh rebuilds with --force when this fails.
'use strict';

const fs = require('fs');
const path = require('path');

const OUT_DIR = path.resolve(__dirname, '..', 'out');
const incomplete = [];
for (const dir of fs.existsSync(OUT_DIR) ? fs.readdirSync(OUT_DIR) : []) {
  if (dir === 'build-info') continue;
  const full = path.join(OUT_DIR, dir);
  if (!fs.statSync(full).isDirectory()) continue;
  for (const file of fs.readdirSync(full)) {
    if (!file.endsWith('.json')) continue;
    const artifact = JSON.parse(fs.readFileSync(path.join(full, file), 'utf8'));
    if (!artifact.bytecode) incomplete.push(`${dir}/${file}`);
  }
}
if (incomplete.length) {
  process.stderr.write(`out/ has artifacts without bytecode: ${incomplete.slice(0, 5).join(', ')}\n`);
  process.exit(1);
}
