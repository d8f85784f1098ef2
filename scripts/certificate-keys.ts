/**
 * `npm run certificate-keys -- COMMAND FILE [KID]`: the certificate issuer's key ring
 * (engine/certificate-keys.ts), the file TEEKA_CERT_KEYS names.
 *
 *   init FILE          a new ring: one signing key and a fresh revocation secret (refuses to overwrite)
 *   add FILE           a new key, published but not yet signing
 *   promote FILE KID   KID signs from now on; the key that signed stays published, its private part destroyed
 *   rotate FILE        add, then promote it (one step, for a single gateway; see below)
 *   retire FILE KID    remove a key that no longer signs: certificates signed with it stop verifying
 *   list FILE          the keys, their status and kid
 *
 * Rotating across several gateways: `add`, deploy (every gateway now publishes the new key),
 * `promote`, deploy. A verifier then never meets a certificate whose key no gateway publishes yet.
 * The file holds private keys: keep it readable by the teeka user only (written with mode 0600).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { runAsCommand } from '../engine/command.js';
import { KeyRing, newKeyRingFile, newSigningJwk, publicPart, thumbprint, type KeyRingFile } from '../engine/certificate-keys.js';

function read(file: string): KeyRingFile {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as KeyRingFile;
  new KeyRing(parsed); // refuse to work on a ring that would not load
  return parsed;
}

function write(file: string, ring: KeyRingFile): void {
  new KeyRing(ring);
  writeFileSync(file, `${JSON.stringify(ring, null, 2)}\n`, { mode: 0o600 });
}

export function addKey(ring: KeyRingFile): string {
  const jwk = newSigningJwk();
  ring.keys.push({ status: 'published', jwk });
  return thumbprint(jwk);
}

export function promoteKey(ring: KeyRingFile, kid: string): void {
  const next = ring.keys.find((k) => thumbprint(k.jwk) === kid);
  if (!next) throw new Error(`no key ${kid} in the ring`);
  if (!('d' in next.jwk)) throw new Error(`key ${kid} has no private part: it can no longer sign`);
  for (const key of ring.keys) {
    if (key.status === 'signing' && key !== next) {
      key.status = 'published';
      key.jwk = publicPart(key.jwk); // SHC: a private key that no longer signs is destroyed
    }
  }
  next.status = 'signing';
}

export function retireKey(ring: KeyRingFile, kid: string): void {
  const index = ring.keys.findIndex((k) => thumbprint(k.jwk) === kid);
  if (index < 0) throw new Error(`no key ${kid} in the ring`);
  if (ring.keys[index]!.status === 'signing') throw new Error(`key ${kid} signs: promote another first`);
  ring.keys.splice(index, 1);
}

async function main(): Promise<number> {
  const [command, file, kid] = process.argv.slice(2);
  if (!command || !file) {
    console.error('usage: npm run certificate-keys -- init|add|promote|rotate|retire|list FILE [KID]');
    return 3;
  }
  if (command === 'init') {
    if (existsSync(file)) throw new Error(`${file} exists: a new ring would orphan every certificate signed with it`);
    write(file, newKeyRingFile());
  } else {
    const ring = read(file);
    if (command === 'add') console.log(`added ${addKey(ring)} (published; promote it to sign)`);
    else if (command === 'promote') promoteKey(ring, kid ?? '');
    else if (command === 'rotate') {
      const added = addKey(ring);
      promoteKey(ring, added);
      console.log(`${added} signs from now on`);
    } else if (command === 'retire') retireKey(ring, kid ?? '');
    else if (command !== 'list') throw new Error(`unknown command ${command}`);
    if (command !== 'list') write(file, ring);
  }
  for (const key of read(file).keys) console.log(`${key.status.padEnd(9)} ${thumbprint(key.jwk)}${'d' in key.jwk ? '' : ' (public only)'}`);
  return 0;
}

runAsCommand(import.meta.url, 'certificate-keys', main);
