// Browser-safe: URLs of the bundled files, their checksums and the story splitter. The absolute
// file paths (Node) are in `@distillery/data-tinystories/node`.
export {
  CORPUS_SHA256,
  CORPUS_STORIES,
  MODEL_SHA256,
  STORY_SEPARATOR,
  corpusLicenseUrl,
  corpusUrl,
  modelUrl,
  splitStories,
} from './urls.js';
