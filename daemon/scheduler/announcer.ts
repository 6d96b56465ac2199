/**
 * AnnounceHost to every scheduler at start and every `announceInterval`, with the load measured
 * since the last announce; sooner again after a failure, so a scheduler that was down (or
 * restarted and forgot us) learns about this host within seconds. LeaveHost on shutdown.
 */
import type { commonv2 } from '../../api/index.ts';
import type { Logger } from '../log.ts';
import { unary, type SchedulerClients } from './clients.ts';

const RETRY_MS = 1_000;
const CALL_TIMEOUT_MS = 5_000;

export class Announcer {
  readonly #clients: SchedulerClients;
  readonly #hostOf: () => commonv2.Host;
  readonly #intervalMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Schedulers that accepted the last announce, and those whose failure is already logged. */
  readonly #announced = new Set<string>();
  readonly #failing = new Set<string>();

  constructor(init: { clients: SchedulerClients; hostOf: () => commonv2.Host; intervalMs: number; log: Logger }) {
    this.#clients = init.clients;
    this.#hostOf = init.hostOf;
    this.#intervalMs = init.intervalMs;
    this.#log = init.log;
  }

  start(): void {
    void this.#tick();
  }

  /** Announces now to every scheduler; true when all accepted. */
  async announce(): Promise<boolean> {
    const host = this.#hostOf();
    const results = await Promise.allSettled(
      this.#clients.all().map(async ({ addr, client }) => {
        try {
          await unary(client.announceHost.bind(client), { host, intervalMs: this.#intervalMs }, CALL_TIMEOUT_MS);
          if (!this.#announced.has(addr)) this.#log.info('announced to scheduler', { scheduler: addr, hostId: host.id });
          this.#announced.add(addr);
          this.#failing.delete(addr);
        } catch (error) {
          this.#announced.delete(addr);
          // Retried every second while it is down: say so once, not every second.
          const log = this.#failing.has(addr) ? this.#log.debug : this.#log.warn;
          this.#failing.add(addr);
          log('announce to scheduler failed; retrying', { scheduler: addr, error: (error as Error).message });
          throw error;
        }
      }),
    );
    return results.every((result) => result.status === 'fulfilled');
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const ok = await this.announce();
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), ok ? this.#intervalMs : Math.min(RETRY_MS, this.#intervalMs));
    this.#timer.unref();
  }

  /** Stops announcing and tells every scheduler this host leaves. */
  async leave(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    const hostId = this.#hostOf().id;
    await Promise.allSettled(
      this.#clients.all().map(({ client }) => unary(client.leaveHost.bind(client), { hostId }, 2_000)),
    );
  }
}
