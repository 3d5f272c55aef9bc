// Browser-safe: URLs of the bundled files, their checksums and the story splitter. The absolute
// file paths (Node) are in `@distillery/data-tinystories/node`.
export * from './urls.js';
