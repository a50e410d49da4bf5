import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoreSynth, storeSynth, synthCacheEnabled, synthKey, SYNTH_CACHE_ENTRIES } from '../../local/assembly/synth-cache.js';

let project: string;
beforeEach(() => {
  project = mkdtempSync(join(tmpdir(), 'hopper-synth-cache-'));
  mkdirSync(join(project, 'src'));
  writeFileSync(join(project, 'src', 'app.ts'), 'new App();');
  writeFileSync(join(project, 'package-lock.json'), '{"lockfileVersion":3}');
  mkdirSync(join(project, 'node_modules', 'dep'), { recursive: true });
  writeFileSync(join(project, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;');
});
afterEach(() => {
  rmSync(project, { recursive: true, force: true });
});

const key = (env: Record<string, string> = {}, request: { app?: string; stack?: string } = {}) => synthKey({ projectDir: project, ...request }, env);

describe('synth key', () => {
  it('is the same for the same files, command and environment, whatever the files\' times', () => {
    const before = key();
    utimesSync(join(project, 'src', 'app.ts'), new Date(0), new Date(0));
    expect(key()).toBe(before);
  });

  it('changes with a file of the project, the lockfile, the app command, the stack, and CDK_, AWS region and HOPPER_ variables', () => {
    const before = key();
    const seen = new Set([before]);
    writeFileSync(join(project, 'src', 'app.ts'), 'new App(); // edited');
    seen.add(key());
    writeFileSync(join(project, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
    seen.add(key());
    seen.add(key({}, { app: 'npx tsx src/other.ts' }));
    seen.add(key({}, { stack: 'Other' }));
    seen.add(key({ CDK_DEFAULT_REGION: 'eu-west-1' }));
    seen.add(key({ AWS_REGION: 'eu-west-1' }));
    seen.add(key({ HOPPER_DEMO: 'x' }));
    expect(seen.size).toBe(8);
  });

  it('ignores node_modules (the lockfile stands for it), .hopper, cdk.out, unrelated variables and the cache switch itself', () => {
    const before = key();
    writeFileSync(join(project, 'node_modules', 'dep', 'index.js'), 'module.exports = 2;');
    mkdirSync(join(project, '.hopper'));
    writeFileSync(join(project, '.hopper', 'x'), 'x');
    mkdirSync(join(project, 'cdk.out'));
    writeFileSync(join(project, 'cdk.out', 'manifest.json'), '{}');
    expect(key({ HOME: '/elsewhere', HOPPER_SYNTH_CACHE: 'on' })).toBe(before);
  });

  it('is off only with HOPPER_SYNTH_CACHE=off', () => {
    expect(synthCacheEnabled({})).toBe(true);
    expect(synthCacheEnabled({ HOPPER_SYNTH_CACHE: 'off' })).toBe(false);
  });
});

describe('synth cache entries', () => {
  const assembly = (text: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'hopper-assembly-'));
    writeFileSync(join(dir, 'manifest.json'), text);
    mkdirSync(join(dir, 'asset.abc'));
    writeFileSync(join(dir, 'asset.abc', 'index.js'), 'exports.handler = 1;');
    return dir;
  };

  it('restores what was stored, assets included, and nothing for an unknown key', () => {
    const cache = join(project, '.hopper', 'synth-cache');
    storeSynth(cache, 'k1', assembly('{"v":1}'));
    const out = mkdtempSync(join(tmpdir(), 'hopper-out-'));

    expect(restoreSynth(cache, 'unknown', out)).toBe(false);
    expect(restoreSynth(cache, 'k1', out)).toBe(true);
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).toBe('{"v":1}');
    expect(readFileSync(join(out, 'asset.abc', 'index.js'), 'utf8')).toBe('exports.handler = 1;');
    rmSync(out, { recursive: true, force: true });
  });

  it(`keeps the ${SYNTH_CACHE_ENTRIES} most recently used entries`, () => {
    const cache = join(project, '.hopper', 'synth-cache');
    for (let index = 0; index < SYNTH_CACHE_ENTRIES + 2; index += 1) {
      storeSynth(cache, `k${index}`, assembly(`{"v":${index}}`));
      const at = new Date(Date.now() - (100 - index) * 1000);
      utimesSync(join(cache, `k${index}`), at, at);
    }
    const kept = readdirSync(cache).sort();
    expect(kept).toHaveLength(SYNTH_CACHE_ENTRIES);
    expect(existsSync(join(cache, 'k0'))).toBe(false);
    expect(existsSync(join(cache, `k${SYNTH_CACHE_ENTRIES + 1}`))).toBe(true);
  });
});
