import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkImports } from '../scripts/check-imports.ts';

test('the repository follows the import direction of DESIGN.md', () => {
  assert.deepEqual(checkImports(), []);
});

test('the import check catches a wrong direction and reaching past index.ts', () => {
  const root = mkdtempSync(join(tmpdir(), 'df-layout-'));
  try {
    for (const folder of ['api', 'engine', 'daemon']) mkdirSync(join(root, folder, 'sub'), { recursive: true });
    writeFileSync(join(root, 'api', 'index.ts'), "import { x } from '../engine/index.ts';\n");
    writeFileSync(join(root, 'engine', 'index.ts'), "export * from './sub/a.ts';\n");
    writeFileSync(join(root, 'daemon', 'index.ts'), "import { a } from '../engine/sub/a.ts';\nimport('../api/index.ts');\n");
    const problems = checkImports(root);
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems.join('\n'), /api\/index\.ts: imports "\.\.\/engine\/index\.ts", but api\/ may import only nothing of ours/);
    assert.match(problems.join('\n'), /daemon\/index\.ts: imports "\.\.\/engine\/sub\/a\.ts"; import engine\/index\.ts instead/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
