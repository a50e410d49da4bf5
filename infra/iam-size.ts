/**
 * IAM's policy sizes, checked at synth: CloudFormation would create the stack's queues and tables
 * and then fail on the role's policy (`LimitExceeded`). A role's inline policies together may hold
 * 10,240 characters, a managed policy 6,144, and a role may have 10 managed policies attached (a
 * quota that can be raised to 20). The CDK moves statements that do not fit the inline policy into
 * managed `OverflowPolicy<n>` policies, but cannot split one statement; the ARNs in a statement are
 * tokens, so each is counted at the longest AWS can make it (environment-size.ts), whitespace left
 * out as IAM leaves it out.
 */
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { longestJsonBytes } from './environment-size.js';

/** IAM's quotas on a role's policies (AWS's "IAM and AWS STS quotas"). */
export const IAM_LIMITS = {
  /** Characters of all inline policies of a role together. */
  inlineCharacters: 10_240,
  /** Characters of one managed policy. */
  managedCharacters: 6_144,
  /** Managed policies attached to one role (the default quota). */
  managedPerRole: 10,
} as const;

/** A role's policies, each at its longest. */
export interface RolePolicySizes {
  /** All inline policies together (the role's own and `AWS::IAM::Policy` resources attached to it). */
  readonly inlineCharacters: number;
  /** Each managed policy created in the app and attached to the role, by construct path. */
  readonly managed: readonly { readonly path: string; readonly characters: number }[];
  /** Managed policies attached: those above and those named by ARN. */
  readonly managedCount: number;
}

const checked = new WeakSet<iam.Role>();

/**
 * Makes synth fail when the policies of `grantee`'s role (a role created in this app) would not fit
 * IAM's quotas, naming the role, the quota and what to do. Idempotent; a grantee without such a
 * role is not checked.
 */
export function checkRolePoliciesAtSynth(grantee: iam.IGrantable, advice: string): void {
  const principal = grantee.grantPrincipal;
  if (!(principal instanceof iam.Role) || checked.has(principal)) return;
  checked.add(principal);
  principal.node.addValidation({
    validate: () => rolePolicyProblems(principal).map((problem) => `IAM would refuse the policies of ${principal.node.path} at deploy: ${problem}, counting every ARN at its longest. ${advice}`),
  });
}

/** What of `role`'s policies is over IAM's quotas (nothing when they fit). */
export function rolePolicyProblems(role: iam.Role): string[] {
  const sizes = rolePolicySizes(role);
  const problems: string[] = [];
  if (sizes.inlineCharacters > IAM_LIMITS.inlineCharacters) problems.push(`its inline policies come to ${sizes.inlineCharacters} characters, over IAM's ${IAM_LIMITS.inlineCharacters}`);
  for (const policy of sizes.managed) {
    if (policy.characters > IAM_LIMITS.managedCharacters) problems.push(`managed policy ${policy.path} comes to ${policy.characters} characters, over IAM's ${IAM_LIMITS.managedCharacters}`);
  }
  if (sizes.managedCount > IAM_LIMITS.managedPerRole) problems.push(`${sizes.managedCount} managed policies are attached, over IAM's default quota of ${IAM_LIMITS.managedPerRole}`);
  return problems;
}

/** The sizes of `role`'s policies at their longest (after the CDK has split them: call it from a validation or on a synthesized stack). */
export function rolePolicySizes(role: iam.Role): RolePolicySizes {
  const stack = Stack.of(role);
  const cfnRole = role.node.defaultChild as iam.CfnRole;
  const roleRef = JSON.stringify(stack.resolve(role.roleName));
  const attached = (roles: unknown): boolean => Array.isArray(stack.resolve(roles)) && (stack.resolve(roles) as unknown[]).some((entry) => JSON.stringify(entry) === roleRef);
  let inlineCharacters = 0;
  const own = stack.resolve(cfnRole.policies) as { policyDocument?: unknown; PolicyDocument?: unknown }[] | undefined;
  for (const policy of own ?? []) inlineCharacters += longestJsonBytes(role, policy.PolicyDocument ?? policy.policyDocument);
  const managed: { path: string; characters: number }[] = [];
  for (const child of stack.node.findAll()) {
    if (Stack.of(child) !== stack) continue;
    if (child instanceof iam.CfnPolicy && attached(child.roles)) inlineCharacters += longestJsonBytes(child, child.policyDocument);
    if (child instanceof iam.CfnManagedPolicy && attached(child.roles)) managed.push({ path: pathOf(child), characters: longestJsonBytes(child, child.policyDocument) });
  }
  const byArn = stack.resolve(cfnRole.managedPolicyArns) as unknown[] | undefined;
  return { inlineCharacters, managed, managedCount: managed.length + (byArn?.length ?? 0) };
}

/** The path of the L2 construct an L1 belongs to. */
function pathOf(resource: IConstruct): string {
  return resource.node.scope?.node.path ?? resource.node.path;
}
