import { DistilleryError } from '@distillery/core';
import { describe, expect, it } from 'vitest';
import { browserNoAdapterHelp, NODE_NO_ADAPTER_HELP } from '../src/no-adapter-help.js';
import { loadNodeGpu } from '../src/node-gpu.browser.js';

describe('E_NO_ADAPTER help', () => {
  it('tells a page served over plain http from another host that it is not a secure context', () => {
    const help = browserNoAdapterHelp('no-navigator-gpu', {
      isSecureContext: false,
      location: { protocol: 'http:', host: '10.0.0.5:5173' },
    });
    expect(help).toContain('not a secure context (http://10.0.0.5:5173)');
    expect(help).toContain('localhost');
    expect(help).not.toContain('npm install');
  });

  it('names the browser, the Linux flags and chrome://gpu when navigator.gpu is missing', () => {
    const help = browserNoAdapterHelp('no-navigator-gpu', { isSecureContext: true });
    expect(help).toContain('navigator.gpu is missing');
    expect(help).toContain('--enable-unsafe-webgpu');
    expect(help).toContain('chrome://gpu');
  });

  it('tells a null requestAdapter() apart from a missing navigator.gpu', () => {
    expect(browserNoAdapterHelp('no-adapter', { isSecureContext: true })).toContain('requestAdapter() returned null');
  });

  it("the browser stub of the Node loader rejects with E_NO_ADAPTER and browser help, never Node's", async () => {
    const error = await loadNodeGpu([]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DistilleryError);
    expect((error as DistilleryError).code).toBe('E_NO_ADAPTER');
    expect((error as DistilleryError).message).toContain('chrome://gpu');
    expect((error as DistilleryError).message).not.toContain(NODE_NO_ADAPTER_HELP);
  });

  it('Node help still names the Vulkan driver', () => {
    expect(NODE_NO_ADAPTER_HELP).toContain('mesa-vulkan-drivers');
  });
});
