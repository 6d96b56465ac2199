/**
 * Loss and delay on the simulated links with netem, as a child of each host's egress token bucket
 * (so the rate limit still holds), when the kernel has sch_netem. Machines of this project's kind
 * have none (RECIPES.md): netemProblem() finds out in a scratch namespace of its own.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { Topology } from '../swarm/netns.ts';

const run = promisify(execFile);
const NETEM_HANDLE = '10:';
let probed: { problem: string | undefined } | undefined;

/** Why netem cannot be used here (no sch_netem in the kernel), or undefined when it can. */
export function netemProblem(): string | undefined {
  if (probed) return probed.problem;
  const scratch = `dfbnetem${process.pid}`;
  let problem: string | undefined;
  try {
    execFileSync('ip', ['netns', 'add', scratch], { stdio: 'pipe', timeout: 10_000 });
    execFileSync('tc', ['-n', scratch, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { stdio: 'pipe', timeout: 10_000 });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    problem = `the kernel has no sch_netem (tc: ${stderr || (error as Error).message})`;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', scratch], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // Never made (ip netns add failed): nothing to remove.
    }
  }
  probed = { problem };
  return problem;
}

/** The handle of the root qdisc (the token bucket) on a host's eth0, e.g. `8001:`. */
async function rootHandle(netns: string): Promise<string> {
  const { stdout } = await run('tc', ['-n', netns, '-j', 'qdisc', 'show', 'dev', 'eth0'], { timeout: 10_000 });
  const root = (JSON.parse(stdout) as Array<{ kind?: string; handle?: string; root?: boolean }>).find((q) => q.root);
  if (!root?.handle) throw new Error(`no root qdisc on eth0 in ${netns}`);
  return root.handle;
}

/** Adds (`on`) or removes netem `params` (e.g. `delay 20ms 5ms loss 0.5%`) under every host's egress bucket. */
export async function applyNetem(topology: Pick<Topology, 'hosts'>, params: string, on: boolean): Promise<void> {
  for (const host of topology.hosts) {
    const parent = `${(await rootHandle(host.netns)).replace(/:$/, '')}:1`;
    const args = on ? ['qdisc', 'add', 'dev', 'eth0', 'parent', parent, 'handle', NETEM_HANDLE, 'netem', ...params.split(/\s+/).filter(Boolean)] : ['qdisc', 'del', 'dev', 'eth0', 'parent', parent, 'handle', NETEM_HANDLE];
    try {
      await run('tc', ['-n', host.netns, ...args], { timeout: 10_000 });
    } catch (error) {
      if (on) throw new Error(`tc ${args.join(' ')} in ${host.netns}: ${String((error as { stderr?: unknown }).stderr ?? (error as Error).message).trim()}`, { cause: error });
      // Removing: already gone (the cell failed before it was added everywhere).
    }
  }
}
