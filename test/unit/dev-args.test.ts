import { describe, expect, it } from 'vitest';
import { parseDevArgs } from '../../cli/dev.js';

describe('hopper dev console options', () => {
  it('shows readable job events without metrics by default', () => {
    expect(parseDevArgs([]).options).toEqual({ logFormat: 'readable', showMetrics: false });
  });

  it('shows the JSON lines with --json-logs and the EMF lines with --metrics', () => {
    expect(parseDevArgs(['--json-logs', '--metrics', '--stack', 'Demo']).options).toEqual({ stack: 'Demo', logFormat: 'json', showMetrics: true });
  });
});
