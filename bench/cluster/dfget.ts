/** dfget's entry point as package.json's `bin` declares it (what users run). */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export function dfgetEntry(): string {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin?: { dfget?: string } };
  if (!pkg.bin?.dfget) throw new Error('package.json has no bin.dfget');
  return join(REPO_ROOT, pkg.bin.dfget);
}
