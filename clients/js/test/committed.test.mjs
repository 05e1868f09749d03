// The committed dist/ and src/api.ts are what the sources and openapi.json make:
// pages and the wheel ship dist/ without a build step, so a stale one would ship.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generatedTypes, TYPES_FILE } from '../scripts/types.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('src/api.ts is generated from the committed openapi.json', async () => {
  assert.equal(
    readFileSync(TYPES_FILE, 'utf8'),
    await generatedTypes(),
    'stale: run `npm run generate` in clients/js (after `make openapi`)',
  );
});

test('dist/ is the build of src/', () => {
  const out = mkdtempSync(join(tmpdir(), 'authapi-client-'));
  try {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', ROOT, '--outDir', out],
      { stdio: 'pipe' },
    );
    const built = readdirSync(out).sort();
    const committed = readdirSync(join(ROOT, 'dist'));
    assert.deepEqual(committed.sort(), built);
    for (const name of built) {
      assert.equal(
        readFileSync(join(ROOT, 'dist', name), 'utf8'),
        readFileSync(join(out, name), 'utf8'),
        `dist/${name} is stale: run \`npm run build\` in clients/js`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
