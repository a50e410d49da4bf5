import { describe, expect, it } from 'vitest';
import { LAMBDA_LIMITS, environmentBytes, environmentProblem, largestVariables } from '../../lib/aws/lambda-limits.js';

describe('Lambda limits', () => {
  it('are the documented numbers', () => {
    expect(LAMBDA_LIMITS).toEqual({
      environmentBytes: 4_096,
      syncRequestBytes: 6_291_456,
      responseBytes: 6_291_556,
      asyncRequestBytes: 1_048_576,
      accountConcurrency: 1_000,
      minimumUnreservedConcurrency: 100,
    });
  });
});

describe('environment size', () => {
  it('counts the UTF-8 bytes of every key and value', () => {
    expect(environmentBytes({})).toBe(0);
    expect(environmentBytes({ A: 'bc', DEF: '' })).toBe(6);
    // "ü" is two bytes, "€" three.
    expect(environmentBytes({ K: 'ü€' })).toBe(6);
  });

  it('lists variables largest first, ties by name', () => {
    expect(largestVariables({ B: 'xx', A: 'xx', LONG: 'x'.repeat(10) })).toEqual([
      { name: 'LONG', bytes: 14 },
      { name: 'A', bytes: 3 },
      { name: 'B', bytes: 3 },
    ]);
  });

  it('accepts exactly 4,096 bytes and refuses more, naming the three largest', () => {
    const fits = { KEY: 'v'.repeat(4_093) };
    expect(environmentProblem(fits)).toBeUndefined();
    expect(environmentProblem({ KEY: 'v'.repeat(4_090), A: '', B: 'bb', C: '' })).toBe(
      "its environment variables come to 4,098 bytes (keys and values, UTF-8), over Lambda's limit of 4,096 bytes; the largest: KEY (4,093 bytes), B (3 bytes), A (1 byte)",
    );
  });
});
