/** Node-only parts (file system): the offline teacher cache. */
export { TeacherCacheReader, TeacherCacheWriter, readCacheIndex, type CacheWriterOptions } from './cache/files.js';
export { buildTeacherCache, type BuildCacheOptions } from './cache/build.js';
