import { resolveConfigPath, type FewShotInputs } from '@distillery/black-box/node';
import { loadExamplesJsonl, loadRecordedOutputs, loadStepByStepSplit } from './data.js';
import { PRESETS, type PresetName } from './presets.js';
import { stepByStepItems } from './prompt.js';
import { defaultPreset, recordedTeacher } from './recorded.js';
import { vendoredDataDir } from './release.js';

/**
 * `input.examples` and `input.stepByStep` of a collect config: pass as `hooks.fewShot` to
 * `runCollectConfig` (`distillery collect` does). A release split without `dir` reads the vendored copy.
 */
export const stepByStepInputs: FewShotInputs = {
  async prepare(input, { base, sampling, recorded }) {
    const release = input.stepByStep;
    const dir = release ? (release.dir === undefined ? vendoredDataDir() : resolveConfigPath(base, release.dir)) : undefined;
    let examples = release
      ? await loadStepByStepSplit(dir!, release.dataset, release.split)
      : await loadExamplesJsonl(resolveConfigPath(base, input.examples!), input.fields);
    const limit = release?.limit ?? input.limit;
    if (limit) examples = examples.slice(0, limit);
    const preset = PRESETS[(input.preset ?? (release ? defaultPreset(release.dataset) : 'arithmetic')) as PresetName];
    const prompt = { preset, exemplars: input.exemplars ?? [], instruction: input.instruction };
    const items = stepByStepItems(examples, { ...prompt, sampling });
    if (!recorded || !release) return { items };
    const outputs = await loadRecordedOutputs(dir!, release.dataset, release.split);
    return { items, teacher: recordedTeacher(examples, outputs, prompt, `recorded:${release.dataset}`) };
  },
};
