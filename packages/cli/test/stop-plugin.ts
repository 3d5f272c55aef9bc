/** A config plugin file (`plugins: ['./stop-plugin.mjs']`) whose `stop-after` callback stops a run after `step`: an interrupted run, to resume. */
export const STOP_PLUGIN = `export const plugins = [
  { kind: 'callback', name: 'stop-after', create: ({ step }) => {
      let seen = 0;
      return { name: 'stop-after', onStep: (e) => void (seen = e.step), shouldStop: () => seen >= step };
  } },
];\n`;
