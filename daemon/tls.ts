/**
 * The daemon's TLS material, read once at start from the config's TLS sections (config.ts,
 * api/tls.ts): a bad path or PEM fails the start naming the key. Each link is on or off by its
 * own section; all off (the default) changes nothing.
 */
import { readFile } from 'node:fs/promises';
import { loadTlsMaterial, type TlsMaterial } from '../api/index.ts';
import { tlsSections, type DfdaemonConfig, type TlsSectionPath } from './config.ts';

export type DaemonTls = Readonly<Record<TlsSectionPath, TlsMaterial | undefined>>;

const readText = (file: string) => readFile(file, 'utf8');

/** Every TLS section of the config, loaded and checked (undefined where off). */
export async function loadDaemonTls(config: DfdaemonConfig): Promise<DaemonTls> {
  const loaded = await Promise.all(tlsSections(config).map(async ([path, section]) => [path, await loadTlsMaterial(path, section, readText)] as const));
  return Object.freeze(Object.fromEntries(loaded) as Record<TlsSectionPath, TlsMaterial | undefined>);
}
