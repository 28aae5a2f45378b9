#!/usr/bin/env node
// Compile stack/chain/contracts/*.sol with the pinned solc-js and write
// stack/chain/build/<Contract>.json = {contractName, abi, bytecode,
// deployedBytecode, compiler, sourceFile, sourceSha256}.
//
// Usage: node compile.js [--out DIR]      (run `npm ci` in stack/chain first)
// Deterministic: same sources + same solc => same bytecode. Cheap (~2 s).
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const HERE = __dirname;
const CONTRACTS_DIR = path.join(HERE, 'contracts');

// Settings are part of the build identity (deploy.py compares them).
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  // cancun: supported by anvil and by both public testnets mirrored here.
  evmVersion: 'cancun',
  outputSelection: {
    '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
  },
};

function main() {
  let outDir = path.join(HERE, 'build');
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) {
      outDir = path.resolve(argv[++i]);
    } else if (argv[i] === '-h' || argv[i] === '--help') {
      console.log('usage: node compile.js [--out DIR]');
      return 0;
    } else {
      console.error(`compile.js: unknown argument ${argv[i]}`);
      return 2;
    }
  }

  let solc;
  try {
    solc = require('solc');
  } catch (e) {
    console.error('compile.js: solc not installed; run `npm ci` in ' + HERE);
    return 1;
  }

  const files = fs.readdirSync(CONTRACTS_DIR).filter((f) => f.endsWith('.sol')).sort();
  const sources = {};
  const hashes = {};
  for (const f of files) {
    const content = fs.readFileSync(path.join(CONTRACTS_DIR, f), 'utf8');
    sources[f] = { content };
    hashes[f] = crypto.createHash('sha256').update(content).digest('hex');
  }

  const input = { language: 'Solidity', sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));

  let failed = false;
  for (const err of output.errors || []) {
    const msg = err.formattedMessage || err.message;
    if (err.severity === 'error') {
      failed = true;
      console.error(msg);
    } else {
      console.warn(msg);
    }
  }
  if (failed) {
    console.error('compile.js: compilation failed');
    return 1;
  }

  fs.mkdirSync(outDir, { recursive: true });
  const version = solc.version();
  for (const f of files) {
    for (const [contractName, c] of Object.entries(output.contracts[f] || {})) {
      if (!c.evm.bytecode.object) continue; // interfaces / abstract contracts
      const artifact = {
        contractName,
        sourceFile: `contracts/${f}`,
        sourceSha256: hashes[f],
        compiler: { name: 'solc-js', version, settings: { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion } },
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      };
      const outFile = path.join(outDir, `${contractName}.json`);
      fs.writeFileSync(outFile, JSON.stringify(artifact, null, 2) + '\n');
      console.log(`compiled ${contractName} -> ${path.relative(process.cwd(), outFile) || outFile}`);
    }
  }
  return 0;
}

process.exitCode = main();
