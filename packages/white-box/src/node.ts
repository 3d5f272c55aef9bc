/** Node-only parts (file system): the offline teacher cache. */
export { TeacherCacheReader, TeacherCacheWriter, readCacheIndex, type CacheWriterOptions } from './cache/files.js';
export { buildTeacherCache, type BuildCacheOptions } from './cache/build.js';
export {
  CACHE_PART_FORMAT,
  mergeCacheParts,
  writeCachePart,
  type CachePartIndex,
  type CacheMergeReport,
  type MergeCachePartsOptions,
} from './cache/merge.js';
