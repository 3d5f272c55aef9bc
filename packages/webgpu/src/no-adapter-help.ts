/** The help E_NO_ADAPTER carries: what to install in Node, what to enable in a browser. */

export const NODE_NO_ADAPTER_HELP = [
  'No WebGPU adapter was found.',
  'In Node, Distillery uses the `webgpu` package (Dawn), which needs a Vulkan driver on Linux:',
  '  - with a GPU: the vendor driver with its Vulkan ICD (NVIDIA, or Mesa radv/anv);',
  '  - without a GPU: Mesa >= 25 lavapipe. On Debian 12 add the bookworm-backports suite, then',
  '      apt-get install libvulkan1 && apt-get install -t bookworm-backports mesa-vulkan-drivers',
  '    (Mesa 22 from the main suite is too old for Dawn). `vulkaninfo --summary` should list a device.',
  'In a browser, WebGPU must be enabled (Chrome/Edge 113+, or a flag elsewhere).',
].join('\n');

/** Why a page has no adapter: no `navigator.gpu` at all, or `requestAdapter()` gave null. */
export type BrowserNoAdapterReason = 'no-navigator-gpu' | 'no-adapter';

interface BrowserGlobals {
  isSecureContext?: boolean;
  location?: { protocol?: string; host?: string };
}

/** Browser help: secure context first (the usual cause), then browser support, flags and chrome://gpu. */
export function browserNoAdapterHelp(reason: BrowserNoAdapterReason, globals: BrowserGlobals = globalThis as BrowserGlobals): string {
  const lines = ['No WebGPU adapter was found in this browser.'];
  if (globals.isSecureContext === false) {
    const where = globals.location ? ` (${globals.location.protocol ?? ''}//${globals.location.host ?? ''})` : '';
    lines.push(
      `This page is not a secure context${where}: browsers expose navigator.gpu only over https:// or on http://localhost / 127.0.0.1.`,
      'Serve it over https, open it from localhost, or (development only) use chrome://flags/#unsafely-treat-insecure-origin-as-secure.',
    );
  } else if (reason === 'no-navigator-gpu') {
    lines.push(
      'navigator.gpu is missing: this browser (or this worker) has no WebGPU. Chrome/Edge 113+ ship it on Windows, macOS and ChromeOS; Safari 26+ and Firefox 141+ (Windows) too.',
    );
  } else {
    lines.push('navigator.gpu exists but requestAdapter() returned null: WebGPU is blocked or disabled for this GPU/driver.');
  }
  lines.push(
    'On Linux, Chrome needs flags: --enable-unsafe-webgpu (and --enable-features=Vulkan on a GPU); headless Chromium without a GPU runs WebGPU on SwiftShader with --enable-unsafe-webgpu.',
    'Open chrome://gpu and check "WebGPU: Hardware accelerated" (or the reason it is disabled); chrome://flags/#enable-unsafe-webgpu enables it.',
  );
  return lines.join('\n');
}
