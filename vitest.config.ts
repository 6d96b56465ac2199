/**
 * Test runner configuration. Every test file runs in a child process of its own (`forks`, isolated),
 * as the tests start daemons, change process-wide state and load the native addon. Two files run
 * at a time; files that use a machine-wide resource run one at a time (the `serial` project).
 */
import { defineConfig } from 'vitest/config';

const ALL = ['api/**/*.test.ts', 'engine/**/*.test.ts', 'daemon/**/*.test.ts', 'scheduler/**/*.test.ts', 'bench/**/*.test.ts', 'test/**/*.test.ts'];

/**
 * Files that share something outside their temp dirs and so must not overlap each other: containerd's
 * /run/containerd (each containerd test removes what appeared there while it ran) and the container
 * tools run as root. The swarm bench's network namespaces use a free prefix per run and no other
 * file uses namespaces, so it runs with the rest. Vitest runs this project after the parallel one.
 */
const SERIAL = ['test/registry-tools/containerd.test.ts', 'test/registry-tools/containers.test.ts', 'test/mirror/runtimes.test.ts'];

/** Two cores on the machines this runs on; more workers only add contention for the clusters. */
const WORKERS = 2;

export default defineConfig({
  test: {
    pool: 'forks',
    isolate: true,
    maxWorkers: WORKERS,
    // Cluster tests start several processes on a shared two-core machine; tests that need longer set their own.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // A test left running (a server not closed) must not keep the run alive.
    teardownTimeout: 30_000,
    exclude: ['**/node_modules/**', '**/fixtures/**', 'addon/target/**'],
    // Isolation is required here, so hints about dropping it are noise after the file and test counts.
    experimental: { diagnostics: false },
    projects: [
      {
        extends: true,
        test: { name: 'parallel', include: ALL, exclude: ['**/node_modules/**', '**/fixtures/**', 'addon/target/**', ...SERIAL] },
      },
      {
        extends: true,
        test: { name: 'serial', include: SERIAL, fileParallelism: false },
      },
    ],
  },
});
