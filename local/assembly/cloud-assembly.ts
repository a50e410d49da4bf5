/**
 * Reads a synthesized cloud assembly (`cdk.out`): its stacks, their templates and the local
 * directories of their file assets (the bundled Lambda code).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HopperError } from '../../lib/errors/base.js';
import { isRecord } from '../../lib/job/model.js';

/** One stack of a cloud assembly. */
export interface StackArtifact {
  /** Artifact id (the construct path of the stack, e.g. `HopperDemo` or `Stage/Stack`). */
  readonly id: string;
  /** The CloudFormation stack name. */
  readonly stackName: string;
  /** Absolute path of the template file. */
  readonly templatePath: string;
  /** Absolute paths of the asset manifests the stack depends on. */
  readonly assetManifestPaths: readonly string[];
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new HopperError(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Lists the CloudFormation stacks of the assembly in `dir`, including those of nested assemblies
 * (CDK stages).
 *
 * @throws HopperError when `dir` holds no readable `manifest.json`.
 */
export function listStacks(dir: string, prefix = ''): StackArtifact[] {
  const root = resolve(dir);
  const manifest = readJson(join(root, 'manifest.json'));
  const artifacts = isRecord(manifest) && isRecord(manifest.artifacts) ? manifest.artifacts : {};
  const stacks: StackArtifact[] = [];
  for (const [id, artifact] of Object.entries(artifacts)) {
    if (!isRecord(artifact)) continue;
    const properties = isRecord(artifact.properties) ? artifact.properties : {};
    if (artifact.type === 'aws:cloudformation:stack' && typeof properties.templateFile === 'string') {
      const dependencies = Array.isArray(artifact.dependencies) ? artifact.dependencies : [];
      const assetManifestPaths = dependencies.flatMap((dependency) => {
        const dependencyArtifact = typeof dependency === 'string' ? artifacts[dependency] : undefined;
        if (!isRecord(dependencyArtifact) || dependencyArtifact.type !== 'cdk:asset-manifest') return [];
        const file = isRecord(dependencyArtifact.properties) ? dependencyArtifact.properties.file : undefined;
        return typeof file === 'string' ? [join(root, file)] : [];
      });
      const displayName = typeof artifact.displayName === 'string' ? artifact.displayName : `${prefix}${id}`;
      stacks.push({
        id: displayName,
        stackName: typeof properties.stackName === 'string' ? properties.stackName : id,
        templatePath: join(root, properties.templateFile),
        assetManifestPaths,
      });
    } else if (artifact.type === 'cdk:cloud-assembly' && typeof properties.directoryName === 'string') {
      stacks.push(...listStacks(join(root, properties.directoryName), `${prefix}${id}/`));
    }
  }
  return stacks;
}

/**
 * Picks the stack to run: the one named (by artifact id or stack name), else the only one.
 *
 * @throws HopperError naming the stacks there are when the choice is ambiguous or not found.
 */
export function pickStack(stacks: readonly StackArtifact[], name: string | undefined): StackArtifact {
  const names = stacks.map((stack) => stack.id).join(', ') || 'none';
  if (name === undefined) {
    const [only] = stacks;
    if (only !== undefined && stacks.length === 1) return only;
    throw new HopperError(`the app has ${stacks.length} stacks (${names}); say which one to run with the stack option (--stack)`);
  }
  const match = stacks.find((stack) => stack.id === name || stack.stackName === name);
  if (match === undefined) throw new HopperError(`the app has no stack named ${name}; its stacks are: ${names}`);
  return match;
}

/** Maps each file asset's object key (the `S3Key` a template names) to its local directory or file. */
export function readFileAssets(stack: StackArtifact): Map<string, string> {
  const byKey = new Map<string, string>();
  for (const manifestPath of stack.assetManifestPaths) {
    const manifest = readJson(manifestPath);
    const files = isRecord(manifest) && isRecord(manifest.files) ? manifest.files : {};
    const dir = resolve(manifestPath, '..');
    for (const asset of Object.values(files)) {
      if (!isRecord(asset) || !isRecord(asset.source) || typeof asset.source.path !== 'string') continue;
      const sourcePath = join(dir, asset.source.path);
      const destinations = isRecord(asset.destinations) ? Object.values(asset.destinations) : [];
      for (const destination of destinations) {
        if (isRecord(destination) && typeof destination.objectKey === 'string') byKey.set(destination.objectKey, sourcePath);
      }
    }
  }
  return byKey;
}

/** Reads a stack's template JSON. */
export function readTemplateJson(stack: StackArtifact): unknown {
  return readJson(stack.templatePath);
}
