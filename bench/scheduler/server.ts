/**
 * The scheduler under load, in its own process (so it has a core of its own): started from a
 * resolved config, it reports its port and, when asked, its CPU time over IPC.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { NOOP_LOGGER, resolveSchedulerConfig, startScheduler } from '../../scheduler/index.ts';

const scheduler = await startScheduler(
  resolveSchedulerConfig({
    server: { listenIP: '127.0.0.1', port: 0 },
    metrics: { enable: true, addr: '127.0.0.1:0' },
    log: { level: 'error' },
  }),
  { log: NOOP_LOGGER },
);
process.send!({ type: 'ready', port: scheduler.port, metricsPort: scheduler.metricsPort });
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
process.on('message', (message: { type: string }) => {
  if (message.type === 'cpu') process.send!({ type: 'cpu', usage: process.cpuUsage(), rssBytes: process.memoryUsage().rss, maxRssBytes: process.resourceUsage().maxRSS * 1024 });
  if (message.type === 'loop') {
    process.send!({ type: 'loop', p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 });
    loopDelay.reset();
  }
  if (message.type === 'stop') void scheduler.close().then(() => process.exit(0));
});
process.on('disconnect', () => void scheduler.close().then(() => process.exit(0)));
