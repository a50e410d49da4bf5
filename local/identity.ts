/**
 * Names and ARNs of local resources. Everything runs in one fake account and region
 * (`LOCAL_IDENTITY`), so ARNs look like AWS's and match wherever the template compares them.
 */
import { LOCAL_IDENTITY } from './emulators.js';

/** An ARN in the local account and region: `arn:aws:<service>:<region>:<account>:<resource>`. */
export function localArn(service: string, resource: string): string {
  return `arn:aws:${service}:${LOCAL_IDENTITY.region}:${LOCAL_IDENTITY.accountId}:${resource}`;
}

/**
 * The physical name CloudFormation would generate, made deterministic: `<stack>-<logicalId>`,
 * shortened to `maxLength` (the emulators start empty, so names never collide).
 */
export function physicalName(stackName: string, logicalId: string, maxLength: number, suffix = ''): string {
  const base = `${stackName}-${logicalId}`;
  return `${base.slice(0, maxLength - suffix.length)}${suffix}`;
}
