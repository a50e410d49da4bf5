/**
 * IAM principals as AWS names them to a Function URL. The caller identity a Function URL passes
 * (`requestContext.authorizer.iam.userArn`) is the *session* ARN of a role,
 * `arn:aws:sts::<account>:assumed-role/<role name>/<session>`, which never carries the role's path,
 * while the role's own ARN does (`arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_0123`
 * for an IAM Identity Center role). A role name is unique in its account whatever its path, so
 * the role ARN without its path names the same role and is what configuration is matched on.
 */

const ROLE_SESSION = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/;
const ROLE = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:[^/]+\/)*([^/]+)$/;

/**
 * The role ARN behind an assumed-role session ARN
 * (`arn:aws:sts::123:assumed-role/Producer/session` → `arn:aws:iam::123:role/Producer`), so that
 * every session of a role is one principal. Other ARNs are returned as they are.
 */
export function principalOf(userArn: string): string {
  const match = ROLE_SESSION.exec(userArn);
  if (match === null) return userArn;
  const [, partition, account, role] = match;
  return `arn:${partition ?? 'aws'}:iam::${account ?? ''}:role/${role ?? ''}`;
}

/**
 * A role ARN without its path, as a role session names its role
 * (`arn:aws:iam::123:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_0123` →
 * `arn:aws:iam::123:role/AWSReservedSSO_Dev_0123`). Anything else is returned as it is (a user
 * ARN keeps its path: a user's ARN passed by a Function URL carries it).
 */
export function withoutRolePath(arn: string): string {
  const match = ROLE.exec(arn);
  if (match === null) return arn;
  const [, partition, account, role] = match;
  return `arn:${partition ?? 'aws'}:iam::${account ?? ''}:role/${role ?? ''}`;
}
