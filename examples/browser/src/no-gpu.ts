/** The page's own no-WebGPU message: the same help the library's E_NO_ADAPTER carries in a browser. */
export function browserNoAdapterHelp(): string {
  const lines = ['This browser offers no WebGPU (navigator.gpu is missing).'];
  if (!window.isSecureContext)
    lines.push(`The page is not a secure context (${location.origin}): open it over https:// or from localhost / 127.0.0.1.`);
  else lines.push('Use Chrome or Edge 113+ (Windows, macOS, ChromeOS), Safari 26+, or Firefox 141+ on Windows.');
  lines.push('On Linux, start Chrome with --enable-unsafe-webgpu (and --enable-features=Vulkan with a GPU), and check chrome://gpu.');
  return lines.join('\n');
}
