import { cdnPublish } from './plugin.js'

export { cdnPublish }
export default cdnPublish
export type { CdnPublishPlugin } from './plugin.js'
export type { CdnPublishOptions, FingerprintOptions } from './options.js'
export type { CdnManifest, ManifestEntry, ManifestFile } from './build/manifest-types.js'
export { Codes, CdnPublishError, type Code } from './errors.js'
export type { PublishOptions, HeaderRule, PrecompressOptions, PrecompressEncoding } from './publish/options.js'
export type { RetentionOptions } from './retention/options.js'
export type { ReleaseRecord, Snapshot } from './publish/record.js'
