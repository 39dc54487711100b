#!/usr/bin/env node
// Measure what anchoring costs on a real node: deploy LucidAnchors from out/ on a private
// anvil (127.0.0.1, Prague rules, so the EIP-7623 calldata floor applies), register a
// device, anchor 100-session batches with metadata of several sizes, and read gasUsed
// from the receipts: whole transactions, 21,000 base and calldata included.
//
//   node scripts/gas.js      prints one line per case; exits 1 if a case exceeds the goal
'use strict';

const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const CONTRACTS_DIR = path.resolve(__dirname, '..');
const ANVIL = path.join(CONTRACTS_DIR, 'node_modules', '.bin', 'anvil');
const SESSIONS = 100;
const GOAL_PER_SESSION = 1000;
const META_SIZES = [0, 32, 64, 128];
const HARDFORK = 'prague';

const word = (hex) => hex.replace(/^0x/, '').padStart(64, '0');
const uint = (n) => word(BigInt(n).toString(16));
const randomWord = () => crypto.randomBytes(32).toString('hex');

// ABI-encode `bytes` as the tail of a call (length word + right-padded data).
function bytesTail(buf) {
  const hex = buf.toString('hex');
  return uint(buf.length) + hex.padEnd(Math.ceil(hex.length / 64) * 64, '0');
}

function startAnvil() {
  return new Promise((resolve, reject) => {
    const port = 20000 + crypto.randomInt(30000);
    const child = spawn(
      ANVIL,
      ['--host', '127.0.0.1', '--port', String(port), '--hardfork', HARDFORK, '--accounts', '1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let seen = '';
    const timer = setTimeout(() => fail(new Error('anvil did not start within 20 s')), 20000);
    const fail = (err) => {
      clearTimeout(timer);
      child.kill();
      reject(err);
    };
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`anvil exited (${code}): ${seen.slice(-500)}`)));
    const onData = (data) => {
      seen += data.toString();
      if (seen.includes(`Listening on 127.0.0.1:${port}`)) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, url: `http://127.0.0.1:${port}` });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
}

async function rpc(url, method, params) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

async function send(url, tx) {
  const hash = await rpc(url, 'eth_sendTransaction', [tx]);
  let receipt = null;
  for (let tries = 0; receipt === null && tries < 200; tries++) {
    receipt = await rpc(url, 'eth_getTransactionReceipt', [hash]); // anvil automines, soon
    if (receipt === null) await new Promise((done) => setTimeout(done, 10));
  }
  if (!receipt || receipt.status !== '0x1') throw new Error(`transaction failed: ${JSON.stringify(receipt)}`);
  return receipt;
}

async function main() {
  const artifact = JSON.parse(
    fs.readFileSync(path.join(CONTRACTS_DIR, 'out', 'LucidAnchors.sol', 'LucidAnchors.json'), 'utf8'),
  );
  const selector = (sig) => '0x' + artifact.methodIdentifiers[sig];
  const { child, url } = await startAnvil();
  let over = false;
  try {
    const [from] = await rpc(url, 'eth_accounts', []);
    const deployed = await send(url, { from, data: artifact.bytecode.object });
    const to = deployed.contractAddress;

    const binding = crypto.randomBytes(64);
    const registered = await send(url, {
      from,
      to,
      data: selector('registerDevice(bytes32,bytes)') + randomWord() + uint(0x40) + bytesTail(binding),
    });

    console.log(`registerDevice tx: ${Number(BigInt(registered.gasUsed))} gas (once per device)`);

    let data;
    for (const size of META_SIZES) {
      const meta = crypto.randomBytes(size);
      data =
        selector('anchor(bytes32,uint32,bytes)') + randomWord() + uint(SESSIONS) + uint(0x60) + bytesTail(meta);
      const receipt = await send(url, { from, to, data });
      const gas = Number(BigInt(receipt.gasUsed));
      const perSession = gas / SESSIONS;
      const ok = perSession <= GOAL_PER_SESSION;
      over ||= !ok;
      console.log(
        `gas per session: ${perSession.toFixed(0)} (anchor tx ${gas} gas, ${SESSIONS} sessions/batch, ` +
          `meta ${size} B, ${HARDFORK}; goal <= ${GOAL_PER_SESSION})${ok ? '' : '  OVER GOAL'}`,
      );
    }
    // The peer of batching: one session's root anchored on its own (32 B meta, a new root).
    const single = await send(url, {
      from,
      to,
      data: selector('anchor(bytes32,uint32,bytes)') + randomWord() + uint(1) + uint(0x60) + bytesTail(crypto.randomBytes(32)),
    });
    console.log(`single-session anchor tx: ${Number(BigInt(single.gasUsed))} gas (one tx per session)`);
    // The same root again (a retry): logged again, no new storage.
    const again = await send(url, { from, to, data });
    console.log(`anchor tx of an already anchored root: ${Number(BigInt(again.gasUsed))} gas`);
  } finally {
    child.kill();
  }
  if (over) process.exit(1);
}

main().catch((err) => {
  console.error(`gas: ${err.message}`);
  process.exit(1);
});
