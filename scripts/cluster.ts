/**
 * `npm start`: a local cluster on this machine. dfmanager on 8080 (REST) and 65003 (gRPC) with its
 * SQLite database in the state dir; dfscheduler on 8002 (metrics 8000) registered with it; one seed peer on
 * ports of its own (41xx), one peer on Dragonfly's default ports (upload 4000, proxy 4001, metrics
 * 4002, health 4003, pieces 4005). Storage and sockets live under $XDG_STATE_HOME/dragonfly-ts
 * (kept across runs) or a fresh temp dir (removed at exit). The daemons find the scheduler through
 * the manager (manager.addrs), as a real deployment does. Logs of every component stream here
 * with a prefix; Ctrl-C stops the children (by their PIDs, peers first) and exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { buildDfdaemonConfig } from '../daemon/index.ts';

const ROOT = resolve(import.meta.dirname, '..');
const DFDAEMON = join(ROOT, 'daemon', 'bin', 'dfdaemon.ts');
const DFSCHEDULER = join(ROOT, 'scheduler', 'bin', 'dfscheduler.ts');
const DFMANAGER = join(ROOT, 'manager', 'bin', 'dfmanager.ts');

interface Ports {
  upload: number;
  proxy: number;
  metrics: number;
  health: number;
  pieces: number;
}

const MANAGER_REST_PORT = 8080;
const MANAGER_GRPC_PORT = 65003;
const MANAGER_ADDR = `127.0.0.1:${MANAGER_GRPC_PORT}`;
const SCHEDULER_PORT = 8002;
const SCHEDULER_METRICS_PORT = 8000;
const PEER: Ports = { upload: 4000, proxy: 4001, metrics: 4002, health: 4003, pieces: 4005 };
const SEED: Ports = { upload: 4100, proxy: 4101, metrics: 4102, health: 4103, pieces: 4105 };

const PORT_KEYS: Record<keyof Ports, string> = {
  upload: 'upload.server.port',
  proxy: 'proxy.server.port',
  metrics: 'metrics.server.port',
  health: 'health.server.port',
  pieces: 'storage.server.tcpPort',
};

function free(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once('error', () => resolveFree(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolveFree(true)));
  });
}

/** Every port we will bind, checked before anything starts, so a clash names its port. */
async function checkPorts(): Promise<string[]> {
  const wanted: Array<[number, string]> = [
    [MANAGER_REST_PORT, 'dfmanager REST (server.rest.port)'],
    [MANAGER_GRPC_PORT, 'dfmanager gRPC (server.grpc.port)'],
    [SCHEDULER_PORT, 'dfscheduler gRPC (server.port)'],
    [SCHEDULER_METRICS_PORT, 'dfscheduler metrics (metrics.addr)'],
    ...(Object.keys(PEER) as Array<keyof Ports>).map((key): [number, string] => [PEER[key], `peer ${PORT_KEYS[key]}`]),
    ...(Object.keys(SEED) as Array<keyof Ports>).map((key): [number, string] => [SEED[key], `seed peer ${PORT_KEYS[key]}`]),
  ];
  const taken: string[] = [];
  for (const [port, what] of wanted) if (!(await free(port))) taken.push(`port ${port} (${what}) is already in use`);
  return taken;
}

function daemonConfig(dir: string, ports: Ports, seed: boolean): string {
  return buildDfdaemonConfig({
    // The machine's own hostname, as a real deployment would show it: host ids `127.0.0.1-<host>` and `...-seed`.
    hostname: hostname(),
    ip: '127.0.0.1',
    storageDir: join(dir, 'storage'),
    socketPath: join(dir, 'dfdaemon.sock'),
    schedulerAddrs: [`127.0.0.1:${SCHEDULER_PORT}`],
    managerAddrs: [MANAGER_ADDR],
    seed,
    ports,
    overrides: { scheduler: { announceInterval: '30s' }, storage: { keep: true } },
  }).yaml;
}

/** A JSON log line as `level msg key=value...`; other lines as they are. */
function render(line: string): string {
  try {
    const { time: _time, level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const fields = Object.entries(rest)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    return `${String(level).padEnd(5)} ${String(msg)}${fields ? `  ${fields}` : ''}`;
  } catch {
    return line;
  }
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
}

function start(name: string, script: string, args: string[], readyMessage: string): Child {
  // A process group of its own: Ctrl-C reaches only this script, which then stops the children in order.
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' }, detached: true });
  const prefix = `[${name}]`.padEnd(12);
  let markReady!: () => void;
  const ready = new Promise<void>((resolveReady) => (markReady = resolveReady));
  const pipe = (stream: NodeJS.ReadableStream) => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (line.includes(`"msg":"${readyMessage}"`)) markReady();
        process.stdout.write(`${prefix} ${render(line)}\n`);
      }
    });
  };
  pipe(child.stdout!);
  pipe(child.stderr!);
  const exited = new Promise<number | null>((resolveExit) => child.on('close', (code) => resolveExit(code)));
  return { name, process: child, ready, exited };
}

async function stop(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 10_000);
  await child.exited;
  clearTimeout(timer);
}

async function main(): Promise<number> {
  const taken = await checkPorts();
  if (taken.length > 0) {
    for (const line of taken) console.error(`npm start: ${line}`);
    console.error('npm start: stop whatever uses these ports (another cluster?) and try again');
    return 1;
  }
  const stateHome = process.env.XDG_STATE_HOME;
  const base = stateHome ? join(stateHome, 'dragonfly-ts', 'cluster') : await mkdtemp(join(tmpdir(), 'dragonfly-cluster-'));
  const children: Child[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the cluster...');
    // Peers first, so they leave the scheduler while it still runs.
    for (const child of [...children].reverse()) await stop(child);
    if (!stateHome) await rm(base, { recursive: true, force: true });
    console.log('cluster stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  // Whatever ends this script, no child outlives it.
  process.on('exit', () => {
    for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  });

  const managerDir = join(base, 'manager');
  await mkdir(managerDir, { recursive: true });
  // The root password: the operator's DRAGONFLY_INITIAL_ROOT_PASSWORD, else one made on this state
  // dir's first start and kept beside the database, since the manager sets it only once.
  const passwordFile = join(managerDir, 'root-password');
  const rootPassword =
    process.env.DRAGONFLY_INITIAL_ROOT_PASSWORD ||
    (await readFile(passwordFile, 'utf8').catch(async () => {
      const made = randomBytes(12).toString('base64url');
      await writeFile(passwordFile, made, { mode: 0o600 });
      return made;
    }));
  await writeFile(
    join(managerDir, 'manager.yaml'),
    stringify({
      server: { rest: { listenIP: '127.0.0.1', port: MANAGER_REST_PORT }, grpc: { listenIP: '127.0.0.1', port: MANAGER_GRPC_PORT }, dataDir: managerDir },
      auth: { rootPassword },
      log: { level: 'info' },
    }),
  );
  const schedulerDir = join(base, 'scheduler');
  await mkdir(schedulerDir, { recursive: true });
  await writeFile(
    join(schedulerDir, 'scheduler.yaml'),
    stringify({
      server: { listenIP: '127.0.0.1', port: SCHEDULER_PORT },
      manager: { addr: MANAGER_ADDR },
      dynconfig: { cacheDir: join(schedulerDir, 'cache') },
      metrics: { addr: `127.0.0.1:${SCHEDULER_METRICS_PORT}` },
      log: { level: 'info' },
    }),
  );
  const daemons: Array<{ name: string; ports: Ports; seed: boolean }> = [
    { name: 'seed', ports: SEED, seed: true },
    { name: 'peer', ports: PEER, seed: false },
  ];
  for (const daemon of daemons) {
    const dir = join(base, daemon.name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'dfdaemon.yaml'), daemonConfig(dir, daemon.ports, daemon.seed));
  }

  const watch = (child: Child) => {
    children.push(child);
    void child.exited.then((code) => {
      if (!stopping) {
        console.error(`npm start: ${child.name} exited (code ${code}); stopping the rest`);
        void shutdown(1);
      }
    });
    return child.ready;
  };
  await watch(start('manager', DFMANAGER, ['--config', join(managerDir, 'manager.yaml')], 'manager started'));
  await watch(start('scheduler', DFSCHEDULER, ['--config', join(schedulerDir, 'scheduler.yaml')], 'scheduler started'));
  for (const daemon of daemons) {
    await watch(start(daemon.name, DFDAEMON, ['--config', join(base, daemon.name, 'dfdaemon.yaml')], 'dfdaemon ready'));
  }

  const socket = join(base, 'peer', 'dfdaemon.sock');
  console.log(`
Local Dragonfly cluster is up (state in ${base}${stateHome ? '' : ', removed on exit'}).

  manager     http://127.0.0.1:${MANAGER_REST_PORT}    gRPC ${MANAGER_ADDR}
              user root, password ${rootPassword}${process.env.DRAGONFLY_INITIAL_ROOT_PASSWORD ? ' (from DRAGONFLY_INITIAL_ROOT_PASSWORD)' : ''}
  scheduler   gRPC 127.0.0.1:${SCHEDULER_PORT}    metrics http://127.0.0.1:${SCHEDULER_METRICS_PORT}/metrics
  seed peer   upload ${SEED.upload}, pieces ${SEED.pieces}    metrics http://127.0.0.1:${SEED.metrics}/metrics   health http://127.0.0.1:${SEED.health}/healthy
  peer        upload ${PEER.upload}, pieces ${PEER.pieces}    metrics http://127.0.0.1:${PEER.metrics}/metrics   health http://127.0.0.1:${PEER.health}/healthy
              socket ${socket}

Download through the peer (the seed fetches from the origin, the peer from the seed):

  npx dfget <URL> -O <PATH> --endpoint ${socket}

or set DFDAEMON_SOCKET=${socket} and leave out --endpoint.

The peer's registry mirror and HTTP proxy listen on http://127.0.0.1:${PEER.proxy}:

  curl -H 'X-Dragonfly-Registry: https://<registry>' http://127.0.0.1:${PEER.proxy}/v2/<name>/blobs/<digest> -o layer
  curl -x http://127.0.0.1:${PEER.proxy} -H 'X-Dragonfly-Use-P2P: true' <URL> -o <PATH>
  npx dfdaemon init-runtime --runtime containerd --containerd-certs-dir <DIR> --registry <registry> --mirror http://127.0.0.1:${PEER.proxy}

Ctrl-C stops everything.
`);
  return new Promise<number>(() => {});
}

process.exitCode = await main();
