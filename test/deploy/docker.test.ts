/**
 * No Docker engine runs here, so docker-compose.yml and the Dockerfile are checked as far as this
 * machine allows: compose parses and says what design.md asks of Redis; the Dockerfile's stages are
 * replayed in temporary folders (its COPY and RUN lines, in order) and the resulting runtime layout
 * loads the native uWS build and finds every file teeka reads at run time.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../engine/config.js';

const root = projectRoot();

describe('docker-compose.yml', () => {
  it('is valid for docker-compose and runs Redis with AOF always and noeviction', () => {
    const config = execFileSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], { encoding: 'utf8' });
    for (const service of ['redis', 'postgres', 'setup', 'worker', 'gateway']) expect(config).toMatch(new RegExp(`^  ${service}:`, 'm'));
    const redis = config.slice(config.indexOf('  redis:'));
    expect(redis).toMatch(/appendfsync\s*\n?\s*- always|--appendfsync, always/);
    expect(redis).toContain('noeviction');
    expect(config).toContain('dist/gateway/main.js');
    expect(config).toContain('dist/worker/main.js');
    expect(config).toContain('dist/scripts/setup.js');
  });
});

describe('Dockerfile', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'teeka-image-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('replays into a runtime layout that loads native uWS and finds lua/, migrations/, the country file and the web pages', () => {
    const lines = readFileSync(join(root, 'Dockerfile'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const stages = new Map<string, string>();
    let current = '';
    for (const line of lines) {
      const [instruction, ...rest] = line.split(/\s+/);
      if (instruction === 'FROM') {
        const name = rest[2] ?? `stage${stages.size}`;
        current = join(scratch, name);
        stages.set(name, current);
      } else if (instruction === 'COPY') {
        const from = rest[0]!.startsWith('--from=') ? stages.get(rest.shift()!.slice(7))! : root;
        const dest = rest.pop()!;
        for (const source of rest) {
          const sourcePath = from === root ? join(root, source) : join(from, source.replace(/^\/app\/?/, ''));
          expect(existsSync(sourcePath), `COPY ${source}: missing`).toBe(true);
          const target = dest === './' ? join(current, source.split('/').pop()!) : join(current, dest);
          cpSync(sourcePath, target, { recursive: true });
        }
      } else if (instruction === 'RUN') {
        execFileSync('sh', ['-c', rest.join(' ')], { cwd: current, stdio: 'pipe', env: { ...process.env, npm_config_prefer_offline: 'true' } });
      }
    }
    const runtime = current;
    expect(existsSync(join(runtime, 'node_modules', 'typescript')), 'dev dependencies are pruned').toBe(false);
    const probe = `
      const { loadUws, isNativeUws } = await import('./dist/gateway/uws-adapter.js');
      const { readScripts } = await import('./dist/engine/scripts.js');
      const { loadConfig } = await import('./dist/engine/config.js');
      const { loadCountry } = await import('./dist/engine/masterdata.js');
      const fs = await import('node:fs');
      loadUws(false);
      const config = loadConfig({});
      console.log(JSON.stringify({ native: isNativeUws(), scripts: readScripts().length, centers: loadCountry(config.countryFile).data.centers.length, migrations: fs.readdirSync('migrations').length, pages: fs.existsSync('web/index.html') && fs.existsSync('web/dashboard.html') && fs.existsSync('node_modules/uplot/dist/uPlot.iife.min.js') }));
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: runtime, encoding: 'utf8' });
    const facts = JSON.parse(output.trim().split('\n').pop()!);
    expect(facts.native).toBe(true);
    expect(facts.scripts).toBeGreaterThanOrEqual(13);
    expect(facts.centers).toBeGreaterThanOrEqual(50);
    expect(facts.migrations).toBeGreaterThanOrEqual(1);
    expect(facts.pages, 'the web pages and the charting library are in the image').toBe(true);
  }, 240_000);
});
