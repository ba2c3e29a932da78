import { cdnPublish } from './plugin.js'

export { cdnPublish }
export default cdnPublish
export type { CdnPublishPlugin } from './plugin.js'
export type { CdnPublishOptions, FingerprintOptions, PublishOptions, HeaderRule, PrecompressOptions, PrecompressEncoding, RetentionOptions } from './options/types.js'
export type { CdnManifest, ManifestEntry, ManifestFile } from './build/manifest-types.js'
export { Codes, CdnPublishError, type Code } from './errors.js'
export type { ReleaseRecord, Snapshot } from './bucket/record.js'
