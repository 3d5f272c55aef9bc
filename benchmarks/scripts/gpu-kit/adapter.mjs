// The GPU kit's adapter probe (bundled as adapter.mjs): prints the adapter distillery-bench will
// use as one JSON line, or says why there is none and exits 3. run.sh calls it before any suite.
import { acquireDevice } from '@distillery/webgpu';

try {
  const { device, info } = await acquireDevice({ label: 'gpu-kit adapter probe' });
  console.log(JSON.stringify({ ...info, features: [...device.features].sort() }));
  device.destroy();
  process.exit(0);
} catch (error) {
  console.error(`gpu-kit: no WebGPU adapter: ${error.message}`);
  process.exit(3);
}
