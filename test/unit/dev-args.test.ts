import { describe, expect, it } from 'vitest';
import { parseDevArgs } from '../../cli/dev.js';

describe('hopper dev console options', () => {
  it('shows readable job events without metrics by default', () => {
    expect(parseDevArgs([]).options).toEqual({ logFormat: 'readable', showMetrics: false });
  });

  it('shows the JSON lines with --json-logs and the EMF lines with --metrics', () => {
    expect(parseDevArgs(['--json-logs', '--metrics', '--stack', 'Demo']).options).toEqual({ stack: 'Demo', logFormat: 'json', showMetrics: true });
  });

  it('takes a partition limit in write units a second, and names the flag of a bad one', () => {
    expect(parseDevArgs(['--partition-limit', '50']).options.partitionLimit).toEqual({ writeUnitsPerSecond: 50 });
    expect(() => parseDevArgs(['--partition-limit', '0'])).toThrow(/--partition-limit must be a positive number of write units per second, but "0"/);
  });
});
