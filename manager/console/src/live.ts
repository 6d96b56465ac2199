/**
 * Live updates from `GET /api/v1/events` (Server-Sent Events: `task`, `host`, `job`). One
 * EventSource is shared by every page that listens and closed when none does. When the stream is
 * down, `useLive` tells the page, which then polls instead, so a page stays current either way.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

export type LiveType = 'task' | 'host' | 'job';
type Handler = (type: LiveType, data: unknown) => void;

const TYPES: readonly LiveType[] = ['task', 'host', 'job'];
// After a stream fails, try again this much later; the browser's own retry covers only drops.
const RECONNECT_MS = 5_000;

const handlers = new Set<Handler>();
const statusListeners = new Set<(connected: boolean) => void>();
let source: EventSource | undefined;
let reconnect: ReturnType<typeof setTimeout> | undefined;
let connected = false;

function setConnected(value: boolean): void {
  if (connected === value) return;
  connected = value;
  for (const listener of statusListeners) listener(value);
}

function open(): void {
  if (source || handlers.size === 0) return;
  const stream = new EventSource('/api/v1/events', { withCredentials: true });
  source = stream;
  for (const type of TYPES) {
    stream.addEventListener(type, (event) => {
      let data: unknown;
      try {
        data = JSON.parse((event as MessageEvent<string>).data);
      } catch {
        return; // A malformed event is skipped; the next one carries the whole object again.
      }
      for (const handler of handlers) handler(type, data);
    });
  }
  stream.onopen = () => setConnected(true);
  stream.onerror = () => {
    setConnected(false);
    if (stream.readyState === EventSource.CLOSED) {
      source = undefined;
      reconnect ??= setTimeout(() => {
        reconnect = undefined;
        open();
      }, RECONNECT_MS);
    }
  };
}

function close(): void {
  if (handlers.size > 0) return;
  source?.close();
  source = undefined;
  clearTimeout(reconnect);
  reconnect = undefined;
  setConnected(false);
}

/**
 * Calls `handler` for each event while the component is mounted; returns whether the stream is
 * connected (false: poll).
 */
export function useLive(handler: Handler): boolean {
  const latest = useRef(handler);
  latest.current = handler;
  const [isConnected, setIsConnected] = useState(connected);
  useEffect(() => {
    const mine: Handler = (type, data) => latest.current(type, data);
    handlers.add(mine);
    statusListeners.add(setIsConnected);
    open();
    setIsConnected(connected);
    return () => {
      handlers.delete(mine);
      statusListeners.delete(setIsConnected);
      close();
    };
  }, []);
  return isConnected;
}

/** Runs `tick` every `ms` while `active`; the latest `tick` is used, so it may close over state. */
export function useInterval(tick: () => void, ms: number, active: boolean): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => latest.current(), ms);
    return () => clearInterval(timer);
  }, [ms, active]);
}
