/**
 * The manager's in-process event bus: what changed (a task's progress, a host, a job), for the
 * `/api/v1/events` stream. One bus per store, so every part of one manager that holds the store
 * (REST, gRPC, the job runner) reaches the same bus with one call and nothing else:
 *
 *   eventBus(store).publish({ type: 'job', job: { id, state, progress } });
 *
 * Delivery is synchronous and never throws into the publisher: a listener that throws is skipped
 * (listeners are the SSE connections, which drop themselves when they fail).
 */

/** A task as `GET /api/v1/tasks` answers it. */
export interface TaskView {
  task_id: string;
  url: string;
  digest: string | null;
  content_length: number | null;
  /** `running` while any host runs it; else `succeeded` when any host has it, else `failed`. */
  state: string;
  bytes_by_source: BytesBySource;
  hosts: TaskHostView[];
  first_seen_at: string;
  last_seen_at: string;
}

export interface BytesBySource {
  origin: number;
  seed_peer: number;
  peer: number;
}

export interface TaskHostView {
  host_id: string;
  hostname: string;
  ip: string;
  /** `running`, `succeeded`, `failed` or `back_to_source`. */
  state: string;
  finished_bytes: number;
  bytes_by_source: BytesBySource;
}

export interface HostEventView {
  host_id: string;
  hostname: string;
  ip: string;
  /** `seed` or `normal`. */
  type: string;
  /** `active` or `inactive`. */
  state: string;
  scheduler_cluster_id: number;
}

export interface JobEventView {
  id: number;
  state: string;
  progress: unknown;
}

export type ManagerEvent =
  | { readonly type: 'task'; readonly task: TaskView }
  | { readonly type: 'host'; readonly host: HostEventView }
  | { readonly type: 'job'; readonly job: JobEventView };

export type EventListener = (event: ManagerEvent) => void;

export class EventBus {
  readonly #listeners = new Set<EventListener>();

  /** Delivers `event` to every listener now. */
  publish(event: ManagerEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own (it drops its connection); the others still get the event.
      }
    }
  }

  /** Adds a listener; the returned function removes it. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }
}

const buses = new WeakMap<object, EventBus>();

/** The bus of one manager, keyed by its store (or anything the manager's parts share). */
export function eventBus(owner: object): EventBus {
  let bus = buses.get(owner);
  if (!bus) {
    bus = new EventBus();
    buses.set(owner, bus);
  }
  return bus;
}

export const emptyBytes = (): BytesBySource => ({ origin: 0, seed_peer: 0, peer: 0 });
