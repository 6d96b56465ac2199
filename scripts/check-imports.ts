/**
 * Enforces DESIGN.md's import direction: each top-level folder may import only the folders listed
 * for it, and only through their index.ts. Exits non-zero naming every offending import.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/** Who may import whom (besides itself). bench and test may import anything; nothing imports them. */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  api: [],
  addon: [],
  engine: ['api', 'addon'],
  daemon: ['engine', 'api'],
  scheduler: ['api'],
  manager: ['api'],
  bench: ['api', 'addon', 'engine', 'daemon', 'scheduler', 'manager'],
  test: ['api', 'addon', 'engine', 'daemon', 'scheduler', 'manager', 'scripts'],
  scripts: ['api', 'addon', 'engine', 'daemon', 'scheduler', 'manager'],
};

const SPECIFIER = /^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|new URL\(\s*['"](\.[^'"]+)['"]\s*,\s*import\.meta\.url/gm;

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'target' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (name.endsWith('.ts')) yield path;
  }
}

export function checkImports(root: string = ROOT): string[] {
  const problems: string[] = [];
  for (const folder of Object.keys(ALLOWED)) {
    let files: string[];
    try {
      files = [...tsFiles(join(root, folder))];
    } catch {
      continue;
    }
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(SPECIFIER)) {
        const specifier = match[1] ?? match[2] ?? match[3]!;
        if (!specifier.startsWith('.') || !specifier.endsWith('.ts')) continue;
        const target = relative(root, resolve(dirname(file), specifier));
        const [targetFolder, ...rest] = target.split(sep);
        const where = `${relative(root, file)}: imports "${specifier}"`;
        if (!targetFolder || targetFolder === folder) continue;
        if (targetFolder === 'scripts' && ALLOWED[folder]!.includes('scripts')) continue;
        if (!(targetFolder in ALLOWED)) {
          problems.push(`${where}, outside the layout`);
        } else if (!ALLOWED[folder]!.includes(targetFolder)) {
          problems.push(`${where}, but ${folder}/ may import only ${ALLOWED[folder]!.join(', ') || 'nothing of ours'}`);
        } else if (rest.join('/') !== 'index.ts') {
          problems.push(`${where}; import ${targetFolder}/index.ts instead of reaching into its files`);
        }
      }
    }
  }
  return problems;
}

if (import.meta.main) {
  const problems = checkImports();
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) {
    console.error(`import check: ${problems.length} import(s) break the direction in DESIGN.md`);
    process.exit(1);
  }
  console.log('import check: ok');
}
