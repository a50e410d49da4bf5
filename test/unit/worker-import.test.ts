import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Imports `modulePath` in a fresh Node process and lists the AWS SDK clients it loaded. */
function clientsLoadedBy(modulePath: string): string[] {
  const probe = [
    "import { createRequire } from 'node:module';",
    'await import(process.argv[1]);',
    "const cache = createRequire(process.cwd() + '/').cache;",
    "const clients = Object.keys(cache).map((path) => /@aws-sdk\\/(client-[a-z0-9-]+|lib-dynamodb)\\//.exec(path)?.[1]).filter(Boolean);",
    'console.log(JSON.stringify([...new Set(clients)].sort()));',
  ].join('\n');
  const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe, `${ROOT}${modulePath}`], { cwd: ROOT, encoding: 'utf8' });
  const parsed: unknown = JSON.parse(output.trim().split('\n').at(-1) ?? '[]');
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

describe('what importing a module loads', () => {
  it.each([
    { module: 'lib/worker/index.ts', clients: ['client-sqs'] },
    { module: 'lib/retry.ts', clients: ['client-sqs'] },
    { module: 'lib/limiters/index.ts', clients: ['client-sqs'] },
    { module: 'lib/stats/recorder.ts', clients: ['client-sqs'] },
    // The control: the probe does see the DynamoDB SDK when it is loaded.
    { module: 'lib/storage/index.ts', clients: ['client-dynamodb', 'client-sqs'] },
  ])('$module loads $clients', ({ module, clients }) => {
    expect(clientsLoadedBy(module)).toEqual(clients);
  });

  it('a worker bundle imports the DynamoDB SDK only lazily (limiters and stats), never at load', async () => {
    const result = await build({
      entryPoints: [`${ROOT}lib/worker/index.ts`],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      outdir: `${ROOT}cdk.out/worker-import-probe`,
      // As the JobSystem bundles functions: the SDK comes from the Lambda runtime.
      external: ['@aws-sdk/*'],
    });

    const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports);
    const dynamo = imports.filter((entry) => entry.path.includes('dynamodb'));
    expect(imports.map((entry) => entry.path)).toContain('@aws-sdk/client-sqs');
    expect(dynamo.length).toBeGreaterThan(0);
    expect(dynamo.filter((entry) => entry.kind !== 'dynamic-import')).toEqual([]);
  });
});
