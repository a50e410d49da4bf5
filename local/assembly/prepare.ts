/**
 * Makes a cloud assembly's function code load the way it does in Lambda: `.js` files are
 * CommonJS unless the code says otherwise (a project's `"type": "module"` above the assembly
 * must not leak in), and external packages (the AWS SDK) resolve from the project's node_modules.
 */
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Prepares `assemblyDir` (idempotent; touches only files it creates). */
export function prepareAssembly(assemblyDir: string, projectDir: string): void {
  const packageJson = join(assemblyDir, 'package.json');
  if (!existsSync(packageJson)) writeFileSync(packageJson, `${JSON.stringify({ private: true, type: 'commonjs' }, null, 2)}\n`);
  if (!hasNodeModulesAbove(assemblyDir)) {
    const projectModules = join(projectDir, 'node_modules');
    // ES modules ignore NODE_PATH, so they need node_modules on their path.
    if (existsSync(projectModules)) symlinkSync(projectModules, join(assemblyDir, 'node_modules'), 'dir');
  }
}

function hasNodeModulesAbove(dir: string): boolean {
  let current = dir;
  for (;;) {
    if (existsSync(join(current, 'node_modules'))) return true;
    const parent = dirname(current);
    if (parent === current) return false;
    current = parent;
  }
}
