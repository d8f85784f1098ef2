/**
 * `npm start`: set up (migrate PostgreSQL, rebuild an emptied Redis from it, publish the planned
 * sessions), then run the gateway and the worker side by side. Stops both when either stops, or on
 * Ctrl-C / SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig, settingsOrExit, testMobilesOf } from '../engine/config.js';
import { loadCountry } from '../engine/masterdata.js';
import { DISAGREEMENT_EXIT_CODE, RedisDisagrees } from '../worker/deployment.js';
import { setup } from './setup.js';

const config = settingsOrExit('teeka', () => loadConfig());
const country = loadCountry(config.countryFile);
const testMobiles = settingsOrExit('teeka', () => testMobilesOf(config, country));
try {
  await setup(config);
} catch (err) {
  if (!(err instanceof RedisDisagrees)) throw err;
  console.error(`teeka: not starting: ${err.message}`);
  process.exit(DISAGREEMENT_EXIT_CODE);
}

const children = new Map<string, ChildProcess>();
let stopping = false;

function stop(exitCode: number): void {
  stopping = true;
  process.exitCode = exitCode;
  for (const child of children.values()) child.kill('SIGTERM');
  if (!children.size) process.exit(exitCode);
  setTimeout(() => process.exit(exitCode), 10_000).unref();
}

function run(name: string, script: string): void {
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], { stdio: 'inherit' });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (stopping) {
      if (!children.size) process.exit(process.exitCode ?? 0);
      return;
    }
    console.error(`teeka: the ${name} stopped (${signal ?? `exit ${code}`}); stopping the rest`);
    stop(code || 1);
  });
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

run('worker', '../worker/main.js');
run('gateway', '../gateway/main.js');
console.log(
  `teeka: gateway on http://127.0.0.1:${config.port}, worker draining bookings into PostgreSQL. Try:\n` +
    `  curl http://127.0.0.1:${config.port}/api/v2/admin/location/states\n` +
    `  the citizen's page: http://127.0.0.1:${config.port}/ (${country.data.country.name})\n` +
    (testMobiles
      ? `  log in with any mobile number starting ${testMobiles.prefix} (+${country.rules.mobile.country_code}, ${country.mobile.format}); its OTP is ${testMobiles.otp}\n`
      : ''),
);
