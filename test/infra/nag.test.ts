import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterEach, describe, expect, it } from 'vitest';
import { configureDemoApp } from '../../infra/demo-stack.js';

/**
 * Every rule the demo app acknowledges, with where and why. Adding an acknowledgement means
 * adding it here too, so each one is reviewed with its reason.
 */
const EXPECTED_ACKNOWLEDGEMENTS: ReadonlyArray<{ path: string; id: string }> = [];

interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: unknown;
}

function acknowledgementsIn(root: IConstruct): Acknowledgement[] {
  return root.node.findAll().flatMap((node) => node.node.metadata
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry): Acknowledgement[] => {
      const data: unknown = entry.data;
      if (typeof data !== 'object' || data === null) return [];
      return Object.entries(data).map(([id, reason]) => ({ path: node.node.path, id: id.replace(/^annotation::/i, ''), reason }));
    }));
}

const outdirs: string[] = [];
function newOutdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hopper-nag-'));
  outdirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing in the demo stack: no error, no warning', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = configureDemoApp(app, {});

    const report = new AwsSolutionsChecks().validateScope(stack);

    expect(report.violations.map((violation) => `${violation.severity} ${violation.ruleName}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('reports findings on a stack that breaks the rules (the check above can fail)', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Bad');
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });

    const report = new AwsSolutionsChecks().validateScope(stack);

    expect(report.violations.map((violation) => violation.ruleName).sort()).toEqual(['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']);
  });

  it('lets the demo app synthesize with the checks registered, leaving no validation report', () => {
    const outdir = newOutdir();
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    configureDemoApp(app, {});

    const assembly = app.synth();

    expect(assembly.getStackByName('HopperDemo').environment.region).toBe('us-east-1');
    const reportPath = join(outdir, 'validation-report.json');
    const violations = existsSync(reportPath)
      ? JSON.parse(readFileSync(reportPath, 'utf8')).pluginReports.flatMap((report: { violations: unknown[] }) => report.violations)
      : [];
    expect(violations).toEqual([]);
  });

  it('fails synthesis of the demo app on a finding nobody acknowledged', () => {
    const app = new App({ outdir: newOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = configureDemoApp(app, {});
    new sqs.Queue(stack, 'Unencrypted', { encryption: sqs.QueueEncryption.UNENCRYPTED, enforceSSL: true });

    expect(() => app.synth()).toThrow(/The SQS Queue does not have server-side encryption enabled/);
  });

  it('takes the region from the environment', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });

    const stack = configureDemoApp(app, { AWS_REGION: 'eu-west-1' });

    expect(stack.region).toBe('eu-west-1');
  });

  it('acknowledges exactly the reviewed rules, each with a reason', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = configureDemoApp(app, {});

    const acknowledgements = acknowledgementsIn(stack);

    expect(acknowledgements.map(({ path, id }) => ({ path, id }))).toEqual(EXPECTED_ACKNOWLEDGEMENTS);
    for (const { id, reason } of acknowledgements) {
      expect(typeof reason === 'string' && reason.trim().length >= 20, `${id} needs a reason`).toBe(true);
    }
  });
});
