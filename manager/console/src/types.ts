/** The manager's REST answers as the console reads them (snake_case, as the API sends them). */

export type Role = 'root' | 'guest';

export interface User {
  id: number;
  name: string;
  email: string | null;
  role: Role;
  state: 'enable' | 'disable';
  created_at: string;
}

export interface ClusterScopes {
  idc?: string;
  location?: string;
  cidrs?: string[];
  hostnames?: string[];
}

export interface Cluster {
  id: number;
  name: string;
  bio: string | null;
  scopes: ClusterScopes;
  scheduler_cluster_config: { candidate_parent_limit: number; filter_parent_limit: number; job_rate_limit: number };
  seed_peer_cluster_config: { load_limit: number };
  peer_cluster_config: { load_limit: number; concurrent_piece_count?: number };
  is_default: boolean;
  created_at: string;
  updated_at: string;
}

export interface Scheduler {
  id: number;
  hostname: string;
  ip: string;
  port: number;
  idc: string | null;
  location: string | null;
  state: string;
  features: string[];
  scheduler_cluster_id: number;
  last_keepalive_at: string | null;
  updated_at: string;
}

export interface Host {
  id: number;
  host_id: string;
  type: string;
  hostname: string;
  ip: string;
  port: number;
  download_port: number;
  version: string | null;
  state: string;
  stats: Record<string, unknown>;
  scheduler_cluster_id: number;
  updated_at: string;
}

export interface Token {
  id: number;
  name: string;
  prefix: string;
  scopes: string[];
  state: 'active' | 'inactive';
  expired_at: string;
  last_used_at: string | null;
  created_at: string;
}

export interface HostProgress {
  host_id: string;
  hostname: string;
  ip: string;
  bytes: number;
  content_length: number;
  state: 'RUNNING' | 'SUCCESS' | 'FAILURE';
  description?: string;
}

export interface LayerProgress {
  scheduler_cluster_id: number;
  url: string;
  digest?: string;
  size?: number;
  state: string;
  bytes: number;
  hosts: HostProgress[];
}

export interface JobResult {
  job_states?: Array<{
    state: string;
    error: string;
    results: Array<{
      scheduler_cluster_id: number;
      success_tasks: Array<{ url: string; hostname: string; ip: string }>;
      failure_tasks: Array<{ url: string; hostname: string; ip: string; description: string }>;
    }>;
  }>;
}

export interface Job {
  id: number;
  task_id: string;
  type: string;
  state: string;
  args: { type?: string; url?: string; urls?: string[]; scope?: string; platform?: string; username?: string };
  result: JobResult | null;
  progress: { layers?: LayerProgress[]; bytes?: number } | null;
  scheduler_cluster_ids: number[];
  created_at: string;
  updated_at: string;
}

export interface BytesBySource {
  origin: number;
  seed_peer: number;
  peer: number;
}

export interface TaskHost {
  host_id: string;
  hostname: string;
  ip: string;
  state: string;
  finished_bytes: number;
  bytes_by_source: BytesBySource;
}

export interface Task {
  task_id: string;
  url: string;
  digest: string | null;
  content_length: number | null;
  state: string;
  bytes_by_source: BytesBySource;
  hosts: TaskHost[];
  first_seen_at: string;
  last_seen_at: string;
}

/** `event: host` of /api/v1/events. */
export interface HostEvent {
  host_id: string;
  hostname: string;
  ip: string;
  type: string;
  state: string;
  scheduler_cluster_id: number;
}

/** `event: job` of /api/v1/events. */
export interface JobEvent {
  id: number;
  state: string;
  progress: Job['progress'];
}
