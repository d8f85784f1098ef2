/**
 * The bench's split of the machine's CPU between processes (loadtest/bench-processes.ts
 * `measureCpu`, `pidCpuSeconds`, `postgresCpuSeconds`, `machineBusySeconds`), on real processes:
 * a child that burns a known amount of its own CPU, and a query that keeps PostgreSQL busy. The
 * amounts are CPU time, which the child counts itself, so a busy machine makes them take longer,
 * not come out different.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { machineBusySeconds, measureCpu, pidCpuSeconds, postgresCpuSeconds } from '../../loadtest/bench-processes.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

// waits for a line, burns 400 ms of its own CPU, says so, and stays until killed (its /proc stays readable)
const BURNER = `
process.stdin.once('data', () => {
  const start = process.cpuUsage();
  for (;;) { const used = process.cpuUsage(start); if (used.user + used.system >= 400_000) break; }
  process.stdout.write('burnt\\n');
});
setInterval(() => {}, 1000);
`;

describe('CPU split between processes', () => {
  it("counts a process's own CPU, and the machine's busy time includes it", async () => {
    const child = spawn(process.execPath, ['-e', BURNER], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const pid = child.pid!;
      const used = measureCpu({ child: () => pidCpuSeconds(pid), machine: machineBusySeconds });
      child.stdin.write('go\n');
      await once(child.stdout, 'data');
      const split = used();
      // /proc counts in ticks of 10 ms; the child's start-up adds a little
      expect(split.child).toBeGreaterThanOrEqual(0.38);
      expect(split.child).toBeLessThan(2);
      expect(split.machine).toBeGreaterThanOrEqual(split.child - 0.05);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    expect(pidCpuSeconds(child.pid!)).toBeNaN();
  });

  it("counts PostgreSQL's server processes, whichever backend did the work", async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const used = measureCpu({ postgres: postgresCpuSeconds });
      await client.query('select count(*) from generate_series(1, 3000000)');
      expect(used().postgres).toBeGreaterThanOrEqual(0.05);
    } finally {
      await client.end();
    }
  });
});
