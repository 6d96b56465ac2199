/**
 * The baseline every operator knows: each peer fetches the whole file from the origin with curl,
 * all at once. The origin's link is shared N ways, so the last peer needs about N x the floor and
 * the origin sends N x the file.
 */
import { join } from 'node:path';
import { findExecutable } from '../lib/spawn.ts';
import { runInHost } from './hosts.ts';
import { startOrigin } from './origin.ts';
import { since, type PeerOutcome, type SwarmSystem } from './system.ts';

export const httpSystem: SwarmSystem = {
  name: 'http',
  needs: [
    { binary: 'nginx', apt: 'nginx-light' },
    { binary: 'curl', apt: 'curl' },
  ],
  peerKind: 'curl',
  async prepare(ctx) {
    const origin = await startOrigin(findExecutable('nginx')!, ctx.origin, ctx.file, join(ctx.workDir, 'nginx'), ctx.signal);
    const curl = findExecutable('curl')!;
    // Aborting one of these SIGKILLs that peer's curl (its process group, by PID).
    const kills = ctx.peers.map(() => new AbortController());
    return {
      track: (ledger) => origin.track(ledger),
      // curl's CPU comes from GNU time when it exits; a killed one's is lost (counted as none).
      killPeer: (index) => kills[index]!.abort(new Error('killed by the harness')),
      async launch(ledger, signal) {
        const started = performance.now();
        return Promise.all(
          ctx.peers.map(async (peer, i): Promise<PeerOutcome> => {
            const outputPath = join(ctx.workDir, `${peer.name}.bin`);
            try {
              const result = await runInHost(peer, curl, ['-s', '-S', '--fail', '-o', outputPath, origin.url], { timeoutMs: ctx.timeoutMs, signal: AbortSignal.any([signal, kills[i]!.signal]) });
              ledger.add('curl', result.cpuSeconds);
              const seconds = since(started);
              if (result.exitCode !== 0) return { name: peer.name, outputPath, seconds: undefined, error: `curl exited with ${result.exitCode ?? result.signal}: ${result.stderr.trim().slice(-300)}` };
              return { name: peer.name, outputPath, seconds, error: undefined };
            } catch (error) {
              if (signal.aborted) throw error;
              return { name: peer.name, outputPath, seconds: undefined, error: (error as Error).message };
            }
          }),
        );
      },
      details: async () => ({ originPayloadBytes: origin.payloadBytes() }),
      stop: () => origin.stop(),
    };
  },
};
