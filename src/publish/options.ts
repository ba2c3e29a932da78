/** Options of the publish step. Resources may also come from `CDN_PUBLISH_*` environment variables. */
export interface PublishOptions {
  /**
   * Bucket to publish to. Also `CDN_PUBLISH_BUCKET`. Publishing is skipped when none is set.
   * @default undefined
   */
  bucket?: string
}
