/**
 * Which modules the stylesheet transform sees, as a filter the bundler evaluates itself (no call
 * into the plugin for the thousands of scripts). Kept apart, with no imports, because the plugin
 * object needs it before the build machinery is loaded.
 */

/** Stylesheet languages, by the module id's extension. */
export const CSS_LANG_RE = /\.(?:css|less|sass|scss|styl|stylus|pcss|postcss|sss)(?:$|\?)/
/** `?raw` and `?url` imports: the file's bytes or URL, not a stylesheet to rewrite. */
export const SKIP_QUERY_RE = /[?&](?:raw|url)\b/

export const cssTransformFilter = { id: { include: CSS_LANG_RE, exclude: [/^\0/, SKIP_QUERY_RE] } }
