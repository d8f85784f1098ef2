/**
 * A Redis Cluster of a test's or a benchmark's own (3 masters, 1 replica each), started by
 * scripts/redis-cluster.sh on free loopback ports and in a temporary directory, so that a test may
 * kill a master and watch its replica take over, and a benchmark may read each node's figures,
 * without disturbing the shared cluster of `npm run test:cluster`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { projectRoot } from '../engine/config.js';

const run = promisify(execFile);
const NODES = 6;

interface NodeInfo {
  port: number;
  role: 'master' | 'slave';
  /** the master's node id for a replica, or its own id for a master */
  id: string;
  masterId: string | null;
  slots: [number, number][];
  failed: boolean;
}

/** Whether a TCP port (and its cluster bus port, +10000) is free on loopback. */
async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freePortRun(): Promise<number> {
  // the shared cluster uses 7101–7106; look above it, where nothing of teeka listens
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 7200 + Math.floor(Math.random() * 80) * 10;
    const ports = Array.from({ length: NODES }, (_, i) => first + i);
    const checks = await Promise.all(ports.flatMap((p) => [portFree(p), portFree(p + 10_000)]));
    if (checks.every(Boolean)) return first;
  }
  throw new Error('no run of 6 free ports (and their cluster bus ports) between 7200 and 8000');
}

export class PrivateCluster {
  private constructor(
    readonly firstPort: number,
    readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** `env`: the environment of the redis-server processes (tests pass one without faketime) */
  static async start(env: NodeJS.ProcessEnv = process.env): Promise<PrivateCluster> {
    const cluster = new PrivateCluster(await freePortRun(), mkdtempSync(join(tmpdir(), 'teeka-cluster-')), env);
    await cluster.script('start');
    return cluster;
  }

  get ports(): number[] {
    return Array.from({ length: NODES }, (_, i) => this.firstPort + i);
  }

  /** REDIS_CLUSTER for processes that should use this cluster */
  get seeds(): string {
    return this.ports.map((p) => `127.0.0.1:${p}`).join(',');
  }

  private async script(command: string): Promise<string> {
    const { stdout } = await run('bash', [join(projectRoot(), 'scripts', 'redis-cluster.sh'), command], {
      env: { ...this.env, CLUSTER_FIRST_PORT: String(this.firstPort), CLUSTER_DIR: this.dir },
      timeout: 120_000,
    });
    return stdout;
  }

  /** a plain connection to one node (not cluster-aware), for INFO, CLUSTER and KEYSLOT */
  async onNode<T>(port: number, use: (node: Redis) => Promise<T>): Promise<T> {
    const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    node.on('error', () => {});
    try {
      await node.connect();
      return await use(node);
    } finally {
      node.disconnect();
    }
  }

  /** every node as the cluster sees it, asked of any node that answers */
  async nodes(): Promise<NodeInfo[]> {
    for (const port of this.ports) {
      try {
        const text = await this.onNode(port, (n) => n.cluster('NODES') as Promise<string>);
        return text
          .trim()
          .split('\n')
          .map((line) => {
            const [id, address, flags, master, , , , , ...slots] = line.split(' ');
            return {
              port: Number(address!.split('@')[0]!.split(':')[1]),
              role: flags!.includes('master') ? 'master' : 'slave',
              id: id!,
              masterId: master === '-' ? null : master!,
              slots: slots.filter((s) => /^\d/.test(s)).map((s) => {
                const [a, b] = s.split('-').map(Number);
                return [a!, b ?? a!] as [number, number];
              }),
              failed: flags!.includes('fail'),
            };
          });
      } catch {
        // that node is down: ask the next
      }
    }
    throw new Error('no node of the cluster answers');
  }

  /** the port of the master now serving a key's slot */
  async masterOf(key: string): Promise<number> {
    const slot = await this.onNode(this.firstPort, (n) => n.cluster('KEYSLOT', key) as Promise<number>).catch(async () => {
      return this.onNode(this.firstPort + 1, (n) => n.cluster('KEYSLOT', key) as Promise<number>);
    });
    const master = (await this.nodes()).find((n) => n.role === 'master' && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!master) throw new Error(`no live master serves slot ${slot}`);
    return master.port;
  }

  /** the port of a master's replica */
  async replicaOf(masterPort: number): Promise<number> {
    const all = await this.nodes();
    const master = all.find((n) => n.port === masterPort)!;
    const replica = all.find((n) => n.masterId === master.id && !n.failed);
    if (!replica) throw new Error(`master ${masterPort} has no live replica`);
    return replica.port;
  }

  /** live masters' ports */
  async masters(): Promise<number[]> {
    return (await this.nodes()).filter((n) => n.role === 'master' && !n.failed && n.slots.length).map((n) => n.port);
  }

  private pid(port: number): number {
    return Number(readFileSync(join(this.dir, String(port), 'redis.pid'), 'utf8').trim());
  }

  signal(port: number, signal: NodeJS.Signals): void {
    process.kill(this.pid(port), signal);
  }

  /** SIGKILL a node and wait until its port is closed */
  async kill(port: number): Promise<void> {
    this.signal(port, 'SIGKILL');
    for (let i = 0; i < 100 && !(await portFree(port)); i++) await new Promise((r) => setTimeout(r, 50));
  }

  /** start the nodes that are down again (a killed master rejoins as its successor's replica) and wait until replicas are in sync */
  async restartStopped(): Promise<void> {
    await this.script('start');
  }

  /** wait until a replica has been promoted (it serves slots) and the cluster says ok */
  async waitForPromotion(replicaPort: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const promoted = (await this.nodes()).find((n) => n.port === replicaPort && n.role === 'master' && n.slots.length);
        const state = await this.onNode(replicaPort, (n) => n.cluster('INFO') as Promise<string>);
        if (promoted && state.includes('cluster_state:ok')) return;
      } catch {
        // nodes are still voting
      }
      if (Date.now() > deadline) throw new Error(`replica ${replicaPort} was not promoted within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async destroy(): Promise<void> {
    for (const port of this.ports) {
      try {
        this.signal(port, 'SIGCONT');
      } catch {
        // not running
      }
    }
    await this.script('stop').catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
