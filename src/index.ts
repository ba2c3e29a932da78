import { cdnPublish } from './plugin.js'

export { cdnPublish }
export default cdnPublish
export type { CdnPublishPlugin } from './plugin.js'
export type { CdnPublishOptions, FingerprintOptions } from './options/build.js'
export type { CdnManifest, ManifestEntry, ManifestFile } from './build/manifest-types.js'
export { Codes, CdnPublishError, type Code } from './errors.js'
export type { PublishOptions, HeaderRule, PrecompressOptions, PrecompressEncoding } from './options/publish.js'
export type { RetentionOptions } from './options/retention.js'
export type { ReleaseRecord, Snapshot } from './bucket/record.js'
